# Everything runs inside .venv; torch is pinned first so no CUDA build is pulled in.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0

.PHONY: install demo test lint bench accuracy clean

$(BIN)/bertclf: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev,xgboost,ray]'
	touch $@

install: $(BIN)/bertclf

demo: install
	mkdir -p demo_out
	$(BIN)/bertclf train examples/support_tickets.csv --out demo_out/tickets-model
	$(BIN)/bertclf predict demo_out/tickets-model examples/new_tickets.txt --top-k 2
	$(BIN)/python examples/demo.py

test: install
	$(BIN)/ruff check bertclf tests benchmarks examples
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/embed_speed.py

accuracy: install
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/defaults.py
	$(BIN)/python benchmarks/auto.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache .ruff_cache *.egg-info
