# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app

.PHONY: run test install translations migrate demo lint format clean

$(BIN)/activate: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(BIN)/activate

# The app refuses to start without the compiled catalogs, so installing compiles them.
install: $(BIN)/activate
	$(BIN)/pybabel compile -d vip/translations --statistics

translations: install

migrate: translations
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask vip demo

run: demo
	@echo "Serving on http://127.0.0.1:5000 (Ctrl-C stops)"
	SESSION_COOKIE_SECURE=0 $(BIN)/flask run --host 127.0.0.1 --port 5000

# SQLite first; then the same suite on PostgreSQL when TEST_DATABASE_URL is set. Each run
# prints its 15 slowest tests and fixtures (CI shows them).
test: translations
	$(BIN)/python -m pytest --durations=15
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
	  echo "== The same suite on PostgreSQL =="; \
	  $(BIN)/python -m pytest --durations=15 --db=postgres; \
	else echo "TEST_DATABASE_URL is not set: PostgreSQL pass skipped."; fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
