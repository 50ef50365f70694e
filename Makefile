# The two commands the README promises: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint types unit bench clean

$(INSTALLED): pyproject.toml $(shell find src -name "*.py" -o -name "*.sql" -o -name "*.html" -o -name "*.js" -o -name "*.css")
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' --config-settings editable_mode=strict
	touch $@

demo: $(INSTALLED)
	$(BIN)/jobledger demo

lint: $(INSTALLED)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

types: $(INSTALLED)
	$(BIN)/mypy --strict src

# Two workers (pytest-xdist): most tests wait on processes and servers, so the suite takes
# about half the time, even on two cores. `$(BIN)/pytest tests` runs it in one process.
unit: $(INSTALLED)
	HYPOTHESIS_PROFILE=ci $(BIN)/pytest --numprocesses 2 tests

test: lint types unit

bench: $(INSTALLED)
	for script in benchmarks/bench_*.py; do $(BIN)/python "$$script" || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
