# Everything runs inside .venv; torch is pinned first so no CUDA build is pulled in.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0

.PHONY: install demo test lint bench clean

$(BIN)/bertclf: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/bertclf

demo: install
	$(BIN)/bertclf tokens "The bank raised rates." "And the river bank flooded."
	mkdir -p demo_out
	$(BIN)/bertclf embed examples/support_tickets.csv --text-col text --out demo_out/vectors.npy
	$(BIN)/python examples/demo.py

test: install
	$(BIN)/ruff check bertclf tests benchmarks examples
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/embed_speed.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache .ruff_cache *.egg-info
