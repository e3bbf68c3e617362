# Greenwave: the two Quick-start commands and a few helpers.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHARED ?= ../shared
REF    := $(SHARED)/reference/sumo/scenarios

.PHONY: demo test lint scenarios clean

$(VENV)/.installed-dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

## demo: install and run the main job: the closed-loop demo on the built-in time-varying arterial
demo: $(VENV)/.installed
	$(VENV)/bin/greenwave demo

## test: install everything the tests need, run ruff and mypy, then the whole suite
test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## scenarios: re-import data/scenarios/*.json from the SUMO reference files (needs ../shared)
scenarios: $(VENV)/.installed
	for x in x050 x080 x095 sat; do \
	  $(VENV)/bin/greenwave scenario import $(REF)/isolated.net.xml --routes $(REF)/isolated_$$x.rou.xml \
	    --name isolated_$$x -o data/scenarios/isolated_$$x.json; done
	$(VENV)/bin/greenwave scenario import $(REF)/arterial.net.xml --routes $(REF)/arterial.rou.xml \
	  --additional $(REF)/arterial_tls_greenwave.add.xml $(REF)/arterial_tls_zero.add.xml \
	  --route-group EB_through=EB_through --route-group WB_through=WB_through \
	  --route-group 'EB_turning=EB_to_*' --route-group 'WB_turning=WB_to_*' \
	  --route-group 'side_origin=N*_to_*,S*_to_*' \
	  --name arterial -o data/scenarios/arterial.json
	$(VENV)/bin/greenwave scenario import $(REF)/grid.net.xml --routes $(REF)/grid.rou.xml \
	  --name grid -o data/scenarios/grid.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
