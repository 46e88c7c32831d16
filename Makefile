# Everything runs inside .venv; torch is pinned first so no CUDA build is pulled in.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0

.PHONY: install demo dist docs test lint bench accuracy clean

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

# The wheel and sdist that `pip install bertclf` will fetch once it is published, built by PyPA's
# `build` (an isolated build, the wheel made from the sdist, so a file either one lacks shows).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
WHEEL   := dist/bertclf-$(VERSION)-py3-none-any.whl
SOURCES := pyproject.toml README.md $(shell find bertclf -type f -not -path '*/__pycache__/*')
# Its own small venv, so that `make dist` needs neither torch nor the rest of the training stack.
BUILD   := .venv-build
$(BUILD)/bin/pyproject-build:
	$(PYTHON) -m venv $(BUILD)
	$(BUILD)/bin/pip install --quiet --upgrade pip build

$(WHEEL): $(SOURCES) | $(BUILD)/bin/pyproject-build
	rm -rf dist
	$(BUILD)/bin/python -m build --outdir dist . >/dev/null
	@ls -l dist

dist: $(WHEEL)

# What `pip install bertclf` gives, the runtime alone (about 270 MB), installed from the built
# wheel, not the checkout: the tests predict with it, in its own venv, with models the full
# install trained, so a file missing from the wheel fails them.
RUNTIME := .venv-runtime
$(RUNTIME)/bin/bertclf: $(WHEEL)
	test -x $(RUNTIME)/bin/python || $(PYTHON) -m venv $(RUNTIME)
	$(RUNTIME)/bin/pip install --quiet --upgrade pip
	$(RUNTIME)/bin/pip install --quiet --force-reinstall --no-deps $(WHEEL)  # this build, at any version
	$(RUNTIME)/bin/pip install --quiet $(WHEEL)  # and what it needs, new dependencies included
	touch $@

# The tests also cover the xgboost head and the Ray engine, compare with sentence-transformers,
# check the layering with import-linter, and build the documentation site.
$(TESTED): $(BIN)/bertclf
	$(PIP) -e '.[train,dev,xgboost,ray,docs]'
	touch $@

install: $(BIN)/bertclf

demo: install
	mkdir -p demo_out
	$(BIN)/bertclf train examples/support_tickets.csv --out demo_out/tickets-model
	$(BIN)/bertclf predict demo_out/tickets-model examples/new_tickets.txt --top-k 2
	$(BIN)/python examples/demo.py

# The site (mkdocs.yml) into build/site, offline; --strict fails it on a broken link or a
# reference to a docstring that is not there.
docs: $(TESTED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test: $(TESTED) $(RUNTIME)/bin/bertclf
	$(BIN)/ruff check bertclf tests benchmarks examples
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	BERTCLF_RUNTIME=$(RUNTIME)/bin/bertclf BERTCLF_WHEEL=$(WHEEL) $(BIN)/python -m pytest -q

bench: $(TESTED)
	$(BIN)/python benchmarks/embed_speed.py

accuracy: $(TESTED)
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/defaults.py
	$(BIN)/python benchmarks/auto.py

clean:
	rm -rf $(VENV) $(RUNTIME) $(BUILD) dist build demo_out .pytest_cache .ruff_cache *.egg-info
