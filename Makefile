# The README's two commands: `make demo` and `make test`. Everything jx needs is installed here,
# into .venv, from this repository (the five local distributions) and the package index (their
# dependencies).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCAL := -e . -e plugins/rules -e 'plugins/collectors[test,spark]' -e plugins/outputs -e plugins/evaluation -e schemes/guangdong -e 'plugins/web[test]'
STAMP := $(VENV)/.installed

.PHONY: demo test install browser bench fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml plugins/rules/pyproject.toml plugins/collectors/pyproject.toml \
          plugins/outputs/pyproject.toml plugins/evaluation/pyproject.toml schemes/guangdong/pyproject.toml \
          plugins/web/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet --no-build-isolation $(LOCAL) -e '.[test]'
	touch $@

# The earlier years' final results first (quietly), so the 2010 leadership review has its history.
demo: $(STAMP)
	@for year in 2007 2008 2009; do $(BIN)/jx run --scheme guangdong --period $$year --final --json >/dev/null || exit 1; done
	$(BIN)/jx run --scheme guangdong

# Lint (ruff: pycodestyle, pyflakes, import order, bugbear) and type-check the core (mypy, config
# in pyproject.toml) first: a finding stops here, before the long suite. The suite runs on every
# core (pytest-xdist), a test module whole on one worker: its session fixtures (the Spark cluster,
# the web tests' store) are built once. PYTEST_ARGS=-n0 runs it in one process.
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy jxcore
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile $(PYTEST_ARGS)

# The 绩效之窗 site is tested in Debian's headless Chromium, with a CJK font so screenshots show
# the Chinese labels.
browser:
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "wenquanyi" || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; }

# Whole-process figures with ratios against baselines measured in the same run (bench/README.md).
bench: $(STAMP)
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/startup.py --repeat 5
	$(BIN)/python bench/scale.py --sizes city,province --repeat 3

# The long fuzz campaigns over the guangdong pack and over import files (tests keep quick ones):
# outcomes per mutant class.
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz_schemes.py $(FUZZ_ARGS)
	$(BIN)/python bench/fuzz_imports.py

clean:
	rm -rf $(VENV) build *.egg-info */*/*.egg-info .pytest_cache .hypothesis .ruff_cache .mypy_cache
