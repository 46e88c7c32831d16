# Everything runs inside .venv; torch is pinned first so no CUDA build is pulled in.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0

.PHONY: install demo test lint bench accuracy clean

# setuptools warns on every editable install about folders named like the package: not a user's concern.
PIP    := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet
TESTED := $(VENV)/.test-extras

# bertclf with its training stack, bertclf[train] (about 2.2 GB, most of it torch); the demo needs
# nothing more.
$(BIN)/bertclf: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(PIP) $(TORCH)
	$(PIP) -e '.[train]'
	touch $@

# What `pip install bertclf` gives, the runtime alone (about 240 MB): the tests predict with it,
# in its own venv, with models the full install trained.
RUNTIME := .venv-runtime
$(RUNTIME)/bin/bertclf: pyproject.toml
	$(PYTHON) -m venv $(RUNTIME)
	$(RUNTIME)/bin/pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(RUNTIME)/bin/pip install --quiet -e .
	touch $@

# The tests also cover the xgboost head and the Ray engine, compare with sentence-transformers, and
# check the layering with import-linter.
$(TESTED): $(BIN)/bertclf
	$(PIP) -e '.[train,dev,xgboost,ray]'
	touch $@

install: $(BIN)/bertclf

demo: install
	mkdir -p demo_out
	$(BIN)/bertclf train examples/support_tickets.csv --out demo_out/tickets-model
	$(BIN)/bertclf predict demo_out/tickets-model examples/new_tickets.txt --top-k 2
	$(BIN)/python examples/demo.py

test: $(TESTED) $(RUNTIME)/bin/bertclf
	$(BIN)/ruff check bertclf tests benchmarks examples
	$(BIN)/lint-imports
	BERTCLF_RUNTIME=$(RUNTIME)/bin/bertclf $(BIN)/python -m pytest -q

bench: $(TESTED)
	$(BIN)/python benchmarks/embed_speed.py

accuracy: $(TESTED)
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/defaults.py
	$(BIN)/python benchmarks/auto.py

clean:
	rm -rf $(VENV) $(RUNTIME) demo_out .pytest_cache .ruff_cache *.egg-info
