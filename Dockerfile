# The image every Kubeflow Pipelines V2 / Vertex AI Pipelines task runs in:
# the pinned dependencies and this project, installed into the system Python.
#   docker build -t ghcr.io/yamnet-audio-pipeline/pipeline:latest .
# TFX sets each task's command (python -m
# tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor), so the
# image needs TFX and the project importable, and defines no ENTRYPOINT.
FROM python:3.10-slim

# The uv that scripts/bootstrap.sh pins.
ARG UV_VERSION=0.13.9
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1

RUN pip install "uv==${UV_VERSION}"

WORKDIR /build
# Dependencies first: a change to the project's code reuses this layer.
COPY requirements.lock overrides.txt ./
# pyfarmhash and crcmod ship no wheels; the compiler leaves once they are built.
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ \
    && uv pip install --system -r requirements.lock --override overrides.txt \
    && apt-get purge -y --auto-remove g++ \
    && rm -rf /var/lib/apt/lists/*

# The packages setup.py installs; pipeline/ includes schema/*.pbtxt.
COPY setup.py ./
COPY pipeline ./pipeline
COPY components ./components
COPY data ./data
COPY models ./models
COPY serving ./serving
COPY yamnet ./yamnet
# Not editable, and built with the locked setuptools, so /build can go and
# nothing but site-packages provides the project.
RUN pip install --no-deps --no-build-isolation . && rm -rf /build

WORKDIR /
