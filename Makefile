# The verbs of the project. `make run` and `make test` set up everything they need on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ARCH ?= arm64
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
PYTHON313 := $(shell scripts/find-python.sh)
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
# sam build needs python3.13 on PATH for the functions; the layers are built by scripts/build-layer.sh.
SAM_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" LAYER_PYTHON="$(CURDIR)/$(PY)" ARCH=$(ARCH)

.PHONY: help run demo admin test unit openapi fuzz-api soak lint build deploy clean

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

run: $(VENV)/.installed  ## the whole stack on 127.0.0.1 (API on :3000), no AWS account, no Docker
	$(PY) -m devstack

demo: $(VENV)/.installed  ## against a running `make run`: upload a sample, make a job, save the result in out/
	$(PY) scripts/demo.py

admin: $(VENV)/.installed  ## tenants and keys: make admin ARGS="tenants create acme" [STACK=<deployed stack>]
	PYTHONPATH=layers/common $(PY) -m $(if $(STACK),imagejobs.services.admin --stack $(STACK),devstack.admin) $(ARGS)

test: $(VENV)/.installed $(SAM_VENV)/.installed lint  ## lint, sam build (no container), every test
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint
	$(SAM_ENV) $(SAM) build --parameter-overrides Architecture=$(ARCH)
	$(PY) -m pytest

unit: $(VENV)/.installed  ## the fast tests only
	$(PY) -m pytest tests/unit

openapi: $(VENV)/.installed  ## regenerate functions/meta/openapi.json and events.schema.json from the code
	$(PY) scripts/openapi.py

fuzz-api: $(VENV)/.installed  ## schemathesis on a fresh local stack: no 5xx, answers as documented (FUZZ_EXAMPLES=100)
	$(PY) scripts/fuzz_api.py

soak: $(VENV)/.installed  ## a bad day: 1,000 jobs, 20 clients, faults injected, on loopback (~15 min); SOAK_ARGS="--jobs 100"
	$(PY) scripts/soak.py $(SOAK_ARGS)

lint: $(VENV)/.installed  ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

.PHONY: bench
bench: $(VENV)/.installed  ## sharp, Pillow and the engine side by side (~6 min); writes bench/results/latest.md
	@command -v npm >/dev/null || { echo "make bench needs node (>= 20.9) and npm, for sharp" >&2; exit 1; }
	test -d bench/node_modules/sharp || npm ci --prefix bench --no-audit --no-fund
	$(PY) bench/run.py

build: $(VENV)/.installed $(SAM_VENV)/.installed  ## sam build for ARCH (arm64 | x86_64), no Docker
	$(SAM_ENV) $(SAM) build --parameter-overrides Architecture=$(ARCH)

deploy: build  ## sam deploy --guided (needs AWS credentials)
	$(SAM) deploy --guided --parameter-overrides Architecture=$(ARCH)

clean:  ## remove the environments and build output
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache .hypothesis

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt layers/codecs/requirements.txt \
		layers/raw/requirements.txt
	@test -n "$(PYTHON313)" || { echo "imagejobs needs Python 3.13 (the Lambda runtime's version). Install it" \
	  "(e.g. 'pyenv install 3.13', or your system's python3.13 package) and run make again." >&2; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -n "$(PYTHON313)" || { echo "imagejobs needs Python 3.13; see above." >&2; exit 1; }
	$(PYTHON313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@
