# panns-lite: two commands for a fresh machine (see README):
#   make test   set up .venv, run the unit tests
#   make book   set up .venv, build the MiniSet, execute the chapters, build the HTML book
#   (make book-check, run by CI after make book: open the built book in headless Chromium)
# Both are idempotent: .venv is reused and reinstalled only when requirements.txt/pyproject.toml change.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
MINISET := workspace/miniset-ci
MINISET_STAMP := $(MINISET)/build_info.json
KERNELSPEC := $(VENV)/share/jupyter/kernels/python3/kernel.json
NODE_STAMP := node_modules/.package-lock.json

.PHONY: venv test lint format install-check data book book-check benchmarks pretrained pretrained-replay clean

venv: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps hearvalidator==2021.0.2  # HEAR's API checker; see requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

test: $(INSTALLED)
	$(PY) -m pytest -q

# House style (CI runs it): ruff formats and lints the code (pyproject.toml, 110 characters) and lints
# the chapters' code cells (book/ruff.toml, 88). `make format` rewrites the code to that style.
lint: $(INSTALLED)
	$(PY) -m ruff format --check panns_lite tests benchmarks scripts
	$(PY) -m ruff check panns_lite tests benchmarks scripts book

format: $(INSTALLED)
	$(PY) -m ruff format panns_lite tests benchmarks scripts
	$(PY) -m ruff check --fix panns_lite tests benchmarks scripts book

# `pip install .` into a fresh venv and tag a shipped recording from outside the repository (CI).
install-check:
	PYTHON=$(PYTHON) bash scripts/check_install.sh

data: $(MINISET_STAMP)

$(MINISET_STAMP): $(INSTALLED) data/sources/SOURCES.tsv panns_lite/miniset.py
	$(PY) -m panns_lite prepare --preset ci --out $(MINISET)

# The chapters run on the venv's own python3 kernel (absolute path in the spec, see build_book.py).
$(KERNELSPEC): $(INSTALLED)
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null

# MathJax, the ipywidgets HTML manager, RequireJS and ONNX Runtime Web (the Try it page) for offline
# reading (pinned in package-lock.json).
$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund

# Execute every chapter of _toc.yml once (papermill, CI-sized parameters), then build _build/html
# with -W -n --keep-going; per-chapter times go to _build/execution_times.{json,md}.
book: $(INSTALLED) $(KERNELSPEC) $(MINISET_STAMP) $(NODE_STAMP)
	$(PY) scripts/build_book.py

# Load the built book in headless Chromium with no network (installs the Debian package if
# missing, as root or with sudo); screenshots go to _build/screenshots. Run after `make book`.
# The `tagger` page (Try it) is used on recordings and a fake microphone and compared with Tagger.
book-check: $(INSTALLED)
	$(PY) scripts/check_book_browser.py --install \
		--expect book/intro=math \
		--expect book/01_audioset_miniset=audio,images \
		--expect book/02_frontend=audio,images,math,widgets \
		--expect book/03_cnn14=images,math \
		--expect book/04_training=audio,images,math \
		--expect book/05_evaluation=images,math \
		--expect book/06_pruning=images,math \
		--expect book/07_finetuning=images \
		--expect book/08_transfer=audio,images,math \
		--expect book/09_inference=audio,images,math \
		--expect book/try_it=tagger \
		--expect book/10_scaling=math \
		--expect book/reference=math

# Retrain the shipped tagger (data/models/pretrained.{pt,json}) from scratch: about 2.5 hours on 2 CPU
# cores, resumable (run it again after an interruption). Not run by CI, which replays its first steps:
pretrained: $(INSTALLED)
	$(PY) scripts/train_pretrained.py

# Retrain the first 20 steps of the shipped tagger and compare the losses with its record bit for bit.
pretrained-replay: $(INSTALLED)
	$(PY) scripts/train_pretrained.py --replay

benchmarks: $(INSTALLED)
	$(PY) benchmarks/bench_frontend_model.py

clean:
	rm -rf _build workspace
