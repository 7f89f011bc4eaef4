# The two commands of the README:
#   make demo   - the embedded stack in one process, prints real hints (no services, no key)
#   make test   - installs everything and runs the linter and the test suite
# Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: install chromium demo test lint serve worker migrate bench clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) chromium

# The console's browser tests drive Debian's chromium (Playwright downloads no browser here).
# Installed when missing and run as root; otherwise CI fails here and a developer's run skips them.
CHROMIUM := /usr/bin/chromium
chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the console's browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif [ "$$CI" = true ]; then \
		echo "$(CHROMIUM) is missing and only root can install it: apt-get install -y chromium" >&2; exit 1; \
	else \
		echo "note: $(CHROMIUM) is missing, so the console's browser tests will be skipped (apt-get install chromium)"; \
	fi

demo: $(STAMP)
	$(PY) -m scripts.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: lint chromium
	$(PY) -m pytest -q

serve: $(STAMP)
	$(PY) -m hint_api.serve

worker: $(STAMP)
	$(VENV)/bin/dramatiq hint_actors

migrate: $(STAMP)
	$(PY) -m scripts.migrate

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
