# Cadence developer commands. `make run` serves the demo, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DATE := 2013-06-30
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test demo translations docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# Reinstall whenever the dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/cadence db upgrade
	CADENCE_BUSINESS_DATE=$(DEMO_DATE) $(BIN)/cadence demo setup

run: demo
	@echo "Cadence on http://$(HOST):$(PORT) (business date $(DEMO_DATE)); Ctrl-C stops it."
	CADENCE_BUSINESS_DATE=$(DEMO_DATE) $(BIN)/gunicorn --workers 2 \
		--bind $(HOST):$(PORT) --access-logfile - 'app:create_app()'

test: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

translations: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations -l fr
	$(BIN)/pybabel compile -d app/translations

docs: | $(BIN)/python
	$(BIN)/pip install -e '.[docs]'
	$(BIN)/mkdocs build --strict

bench: | $(BIN)/python
	$(BIN)/pip install -e '.[dev,bench]'
	$(BIN)/python bench/flag_eval.py

clean:
	rm -rf $(VENV) instance .pytest_cache site
