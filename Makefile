# The verbs of the project. `make run` and `make test` set up everything they need on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ARCH ?= arm64
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
PYTHON313 := $(shell scripts/find-python.sh)
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
# sam build needs python3.13 on PATH for the functions; the layers are built by scripts/build-layer.sh.
SAM_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" LAYER_PYTHON="$(CURDIR)/$(PY)" ARCH=$(ARCH)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help run demo admin test unit openapi gallery fuzz-api soak lint checkov browser shells build deploy clean

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

run: $(VENV)/.installed  ## the whole stack on 127.0.0.1 (API on :3000), no AWS account, no Docker
	$(PY) -m devstack

demo: $(VENV)/.installed  ## against a running `make run`: upload a sample, make a job, save the result in out/
	$(PY) scripts/demo.py

admin: $(VENV)/.installed  ## tenants and keys: make admin ARGS="tenants create acme" [STACK=<deployed stack>]
	PYTHONPATH=layers/common $(PY) -m $(if $(STACK),imagejobs.services.admin --stack $(STACK),devstack.admin) $(ARGS)

test: $(VENV)/.installed $(SAM_VENV)/.installed browser shells lint checkov  ## lint, checkov, sam build (no container), every test
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint
	$(SAM_ENV) $(SAM) build --parameter-overrides Architecture=$(ARCH)
	$(PY) -m pytest

unit: $(VENV)/.installed  ## the fast tests only
	$(PY) -m pytest tests/unit

openapi: $(VENV)/.installed  ## regenerate functions/meta/openapi.json and events.schema.json from the code
	$(PY) scripts/openapi.py

gallery: $(VENV)/.installed  ## regenerate docs/operations.md and its pictures (docs/gallery/) with the engine
	$(PY) scripts/gallery.py

fuzz-api: $(VENV)/.installed  ## schemathesis on a fresh local stack: no 5xx, answers as documented (FUZZ_EXAMPLES=100)
	$(PY) scripts/fuzz_api.py

soak: $(VENV)/.installed  ## a bad day: 1,000 jobs, 20 clients, faults injected, on loopback (~15 min); SOAK_ARGS="--jobs 100"
	$(PY) scripts/soak.py $(SOAK_ARGS)

lint: $(VENV)/.installed  ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# checkov reads the CloudFormation that SAM makes of the template (roles, stage, permissions and
# event source mappings included), not the SAM template, where it sees only a third of that.
checkov: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed  ## checkov on what sam deploys: 0 failed; each skip says why in its resource's Metadata
	@mkdir -p .aws-sam
	$(SAM_VENV)/bin/python scripts/sam_translate.py template.yaml > .aws-sam/translated.json
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --file .aws-sam/translated.json --framework cloudformation \
	  --skip-download --compact --quiet
# The browser tests (tests/e2e/test_browser.py) drive headless Chromium: the system's when there is
# one (Debian's package, through apt-get), else the build Playwright downloads.
browser: $(VENV)/.installed  ## Chromium for the browser tests (apt-get's, or Playwright's own download)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  if command -v apt-get >/dev/null; then \
	    $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else $(PY) -m playwright install chromium; fi

# The README's walkthrough is pasted into zsh (macOS's shell) and bash by tests/e2e/test_user_flows.py.
shells:  ## zsh for the walkthrough's test (apt-get's), beside bash
	@command -v zsh >/dev/null || if command -v apt-get >/dev/null; then \
	    $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zsh; \
	  else echo "the walkthrough's test needs zsh: install it with your package manager" >&2; exit 1; fi

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
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache .hypothesis

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt layers/codecs/requirements.txt \
		layers/raw/requirements.txt
	@test -n "$(PYTHON313)" || { echo "imagejobs needs Python 3.13 (the Lambda runtime's version). Install it" \
	  "(e.g. 'pyenv install 3.13', or your system's python3.13 package) and run make again." >&2; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -n "$(PYTHON313)" || { echo "imagejobs needs Python 3.13; see above." >&2; exit 1; }
	$(PYTHON313) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -n "$(PYTHON313)" || { echo "imagejobs needs Python 3.13; see above." >&2; exit 1; }
	$(PYTHON313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@
