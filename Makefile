# keras_grow — every target works on a fresh machine with only python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= outputs
export KERAS_BACKEND := tensorflow
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: demo test test-slow lint tutorials bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo needs the bundled data and matplotlib; tests need everything.
$(VENV)/.demo-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[datasets,plots]"
	touch $@

$(VENV)/.dev-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.demo-deps

demo: $(VENV)/.demo-deps
	$(BIN)/python -m keras_grow.demo --output-dir $(OUT)/demo

test: $(VENV)/.dev-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

test-slow: $(VENV)/.dev-deps
	$(BIN)/python -m pytest -m slow -q

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check keras_grow tests tutorials benchmarks
	$(BIN)/ruff format --check keras_grow tests tutorials benchmarks

# KERAS_GROW_SMOKE=1 makes every tutorial finish in about a minute.
tutorials: $(VENV)/.dev-deps
	@set -e; for t in tutorials/[0-9][0-9]_*.py; do [ -e "$$t" ] || continue; \
	  echo "== $$t"; KERAS_GROW_OUTPUT_DIR=$(OUT)/tutorials $(BIN)/python $$t; done

bench: $(VENV)/.dev-deps
	@set -e; for b in benchmarks/bench_*.py; do [ -e "$$b" ] || continue; \
	  echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache *.egg-info
