# The two commands of the README:
#   make demo   - the embedded stack in one process, prints real hints (no services, no key)
#   make test   - installs everything and runs the linter and the test suite
# Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: install demo test lint serve worker migrate bench clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m scripts.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest -q

serve: $(STAMP)
	$(PY) -m hint_api.serve

worker: $(STAMP)
	$(VENV)/bin/dramatiq hint_actors

migrate: $(STAMP)
	$(PY) -m scripts.migrate

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
