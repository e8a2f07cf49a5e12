# Two commands on a fresh machine: `make run` (the pipeline on ESC-50) and
# `make test`. Both set up .venv first (Python 3.10 + pinned dependencies).
VENV ?= .venv
PY := $(VENV)/bin/python
OUTPUT ?= outputs
ESC50_ROOT ?= $(OUTPUT)/esc50/ESC-50-master
YAMNET_HANDLE ?= https://tfhub.dev/google/yamnet/1
CLASSES ?= dog,cat
PYTEST_ARGS ?=
# pytest-xdist workers; each module (and every user of the shared demo run)
# stays on one worker, tests/conftest.py. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

.PHONY: setup run demo portable-demo test lock clean

setup:
	bash scripts/bootstrap.sh

# The pipeline on real ESC-50 (downloaded on first use) with YAMNet from TF Hub.
run: setup
	@if [ ! -f "$(ESC50_ROOT)/meta/esc50.csv" ]; then \
	  $(VENV)/bin/yamnet-pipeline download-esc50 --to $(OUTPUT)/esc50; fi
	$(VENV)/bin/yamnet-pipeline run --data-root $(ESC50_ROOT) \
	  --yamnet $(YAMNET_HANDLE) --classes $(CLASSES) --output $(OUTPUT)/run \
	  --summary-json $(OUTPUT)/run/summary.json

# The same pipeline, offline, on synthetic clips and a stand-in YAMNet.
demo: setup
	$(VENV)/bin/yamnet-pipeline demo --output $(OUTPUT)/demo \
	  --summary-json $(OUTPUT)/demo/summary.json

# The demo with every Beam component on Beam's portable runner (a local job
# service and worker pool): the path Flink, Spark and Dataflow take.
portable-demo: setup
	$(PY) scripts/run_portable.py demo --output $(OUTPUT)/portable-demo \
	  --summary-json $(OUTPUT)/portable-demo/summary.json

test: setup
	$(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Re-pin every dependency (needs network); commit requirements.lock after.
lock: setup
	$(VENV)/bin/uv pip compile --python-version 3.10 \
	  --python-platform x86_64-manylinux_2_28 requirements.in \
	  --override overrides.txt -o requirements.lock

clean:
	rm -rf $(OUTPUT)
