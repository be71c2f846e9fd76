# Giftcast: `make run` serves the embedded default with demo data; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-unit test-e2e bench lint install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Giftcast is starting on http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	$(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

test: test-unit test-e2e

test-unit: $(STAMP)
	$(BIN)/python -m pytest --ignore=tests/e2e

# Playwright runs its own event loop, so the browser journeys get their own process
# without pytest-asyncio (see tests/e2e/conftest.py for the skip/fail rule).
test-e2e: $(STAMP)
	GIFTCAST_E2E=1 DJANGO_ALLOW_ASYNC_UNSAFE=true $(BIN)/python -m pytest tests/e2e -p no:asyncio -W ignore::pytest.PytestConfigWarning

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit $$?; done

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
