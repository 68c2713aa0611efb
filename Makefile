# Two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   install, then run the study pipeline and the analysis on the shipped sample videos
#   make test   install, check that imports run one way (lint-imports), then run the test suite
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all lint-imports system-deps clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Headless Chromium renders the HTML report in its test (Debian package).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: chromium not found; the report rendering test will be skipped"; fi; \
	fi

demo: $(STAMP)
	$(BIN)/facefeedback run configs/demo_study.yaml --out demo_output
	$(BIN)/facefeedback analyze demo_output --outcome HAMD17 --task all
	@echo "report: demo_output/analysis/report.html"

# The import contracts of pyproject.toml ([tool.importlinter]; docs/developing.md).
lint-imports: $(STAMP)
	$(BIN)/lint-imports

test: $(STAMP) system-deps lint-imports
	$(BIN)/python -m pytest

test-all: $(STAMP) system-deps
	$(BIN)/python -m pytest -m ''

clean:
	rm -rf $(VENV) demo_output .pytest_cache .import_linter_cache
