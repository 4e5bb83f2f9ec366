# Every target does its own set-up on a fresh machine: it creates .venv and
# installs the project into it when pyproject.toml is newer than the venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo lint check-rules clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check receiver tests
	$(BIN)/ruff format --check receiver tests
	$(BIN)/mypy
	$(BIN)/lint-imports

check-rules: $(STAMP)
	$(BIN)/receiver check rules/
	$(BIN)/receiver test rules/

test: lint check-rules
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/receiver demo

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
