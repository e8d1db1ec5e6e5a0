# panns-lite: two commands for a fresh machine (see README):
#   make test   set up .venv, run the unit tests
#   make book   set up .venv, build the MiniSet, execute the chapters, build the HTML book
# Both are idempotent: .venv is reused and reinstalled only when requirements.txt/pyproject.toml change.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
MINISET := workspace/miniset-ci
MINISET_STAMP := $(MINISET)/build_info.json

.PHONY: venv test data book benchmarks clean

venv: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

test: $(INSTALLED)
	$(PY) -m pytest -q

data: $(MINISET_STAMP)

$(MINISET_STAMP): $(INSTALLED) data/sources/SOURCES.tsv panns_lite/miniset.py
	$(PY) -m panns_lite prepare --preset ci --out $(MINISET)

book: $(INSTALLED) $(MINISET_STAMP)
	$(VENV)/bin/jupyter-book build -W -n --keep-going .

benchmarks: $(INSTALLED)
	$(PY) benchmarks/bench_frontend_model.py

clean:
	rm -rf _build workspace
