# The image every Kubeflow Pipelines V2 / Vertex AI Pipelines task runs in:
# the pinned dependencies and this project, installed into the base's Python.
#   DOCKER_BUILDKIT=1 docker build -t ghcr.io/yamnet-audio-pipeline/pipeline:latest .
# On a machine without registry access, scripts/build_image.sh makes a base
# offline and builds this file on it (docs/orchestration.md).
# TFX sets each task's command (python -m
# tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor), so the
# image needs TFX and the project importable, and defines no ENTRYPOINT.
#
# Build arguments and secrets:
#   BASE_IMAGE   any image with Python 3.10 in /usr/local (python:3.10-slim's
#                layout) and apt; default python:3.10-slim.
#   --secret id=extra_ca_certs,src=FILE   PEM certificates trusted, besides the
#                base's own, while downloading packages: for networks that
#                inspect TLS. A secret is never written to a layer, and only the
#                build stage sees it.
ARG BASE_IMAGE=python:3.10-slim

FROM ${BASE_IMAGE} AS build
# The uv that scripts/bootstrap.sh pins.
ARG UV_VERSION=0.13.9
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1

WORKDIR /build
COPY requirements.lock overrides.txt ./
# pyfarmhash and crcmod ship no wheels, so this stage has a compiler; the
# final stage takes only /usr/local from it.
RUN --mount=type=secret,id=extra_ca_certs \
    if [ -s /run/secrets/extra_ca_certs ]; then \
      cat /etc/ssl/certs/ca-certificates.crt /run/secrets/extra_ca_certs \
        > /tmp/ca-certificates.pem; \
      export SSL_CERT_FILE=/tmp/ca-certificates.pem \
        PIP_CERT=/tmp/ca-certificates.pem UV_NATIVE_TLS=1; \
    fi \
    && apt-get update \
    && apt-get install -y --no-install-recommends g++ \
    && pip install "uv==${UV_VERSION}" \
    && uv pip install --system -r requirements.lock --override overrides.txt \
    && pip uninstall -y uv \
    && rm -f /tmp/ca-certificates.pem

# The packages setup.py installs; pipeline/ includes schema/*.pbtxt.
COPY setup.py ./
COPY pipeline ./pipeline
COPY components ./components
COPY data ./data
COPY models ./models
COPY serving ./serving
COPY yamnet ./yamnet
# Not editable, and built with the locked setuptools, so nothing but
# site-packages provides the project.
RUN pip install --no-deps --no-build-isolation .

FROM ${BASE_IMAGE}
ENV PYTHONUNBUFFERED=1
COPY --from=build /usr/local /usr/local
WORKDIR /
