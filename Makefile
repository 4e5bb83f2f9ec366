# Every target does its own set-up on a fresh machine: it creates .venv and
# installs the project into it when pyproject.toml is newer than the venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo lint check-rules check-alerts system-deps kube-apiserver bench bench-deps bench-detection clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUNTIME_STAMP)

# The demo needs the receiver and its runtime dependencies only, not the test
# tools; pip shows what it fetches, so the first run is not minutes of silence.
RUNTIME_STAMP := $(VENV)/.installed-runtime

$(RUNTIME_STAMP): pyproject.toml
	@echo "make demo: installing the receiver and its runtime dependencies into $(VENV) (about a minute the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar on --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e .
	touch $(RUNTIME_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check receiver tests bench
	$(BIN)/ruff format --check receiver tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

check-rules: $(STAMP)
	$(BIN)/receiver check rules/
	$(BIN)/receiver test rules/

# Real peers from Debian: Alertmanager (the end-to-end tests run against it),
# prometheus (its promtool checks and tests alerts/) and chromium (the console's
# browser tests drive it with Playwright; Playwright's own browser download
# does not reach this network). As root (CI) they are installed; otherwise the
# message says how.
SYSTEM_PACKAGES := prometheus-alertmanager prometheus chromium

system-deps:
	@command -v prometheus-alertmanager >/dev/null && command -v promtool >/dev/null \
	  && command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; \
	  else \
	    echo "make test needs Debian's $(SYSTEM_PACKAGES):" \
	      "sudo apt-get install $(SYSTEM_PACKAGES), then make test again"; exit 1; \
	  fi; }

# Prometheus rules in alerts/: valid (lint warnings fail), and their unit tests.
check-alerts: system-deps
	promtool check rules --lint-fatal alerts/*.yaml
	promtool test rules alerts/tests/*.yaml

# A real kube-apiserver (and etcd) for tests/kubereal, built once from Debian's kubernetes
# source and cached outside the clone (tools/kube-apiserver/build.sh). As root (CI) it is built
# when missing; otherwise the tier skips and says how to build it.
kube-apiserver:
	@if [ "$$(id -u)" = 0 ]; then tools/kube-apiserver/build.sh; \
	else tools/kube-apiserver/build.sh 2>/dev/null || \
	  echo "tests/kubereal will skip: run 'sudo make kube-apiserver' once to build the server"; fi

test: lint check-rules check-alerts system-deps kube-apiserver
	$(BIN)/pytest

# The benchmarks: the throughput suite needs Debian's wrk (installed as root,
# otherwise the message says how) and taskset; the storm lab needs the
# project's `bench` extra (matplotlib). BENCH_ARGS go to bench/run.py
# (make bench BENCH_ARGS=--quick), STORM_ARGS to bench/storm.py, DETECTION_ARGS
# to bench/detection.py (make bench DETECTION_ARGS="--sizes 10000").
BENCH_STAMP := $(VENV)/.bench-installed
BENCH_PACKAGES := wrk

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench-deps:
	@command -v wrk >/dev/null && command -v taskset >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $(BENCH_PACKAGES) util-linux >/dev/null; \
	  else \
	    echo "make bench needs Debian's $(BENCH_PACKAGES) (and taskset, from util-linux):" \
	      "sudo apt-get install $(BENCH_PACKAGES), then make bench again"; exit 1; \
	  fi; }

bench: $(BENCH_STAMP) bench-deps
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/storm.py $(STORM_ARGS)
	$(BIN)/python bench/detection.py $(DETECTION_ARGS)

# Only the detection benchmark (bench/README.md, "Detection"): missed heartbeats
# declared at their deadline at 10k and 100k pods, about 6 minutes.
bench-detection: $(STAMP) bench-deps
	$(BIN)/python bench/detection.py $(DETECTION_ARGS)

demo: $(RUNTIME_STAMP)
	$(BIN)/receiver demo $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
