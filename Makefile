# IPX: `make run` serves the API with a demo marketplace; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench bench-journal bench-proofs bench-orders bench-revenue clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ipx run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: bench-journal bench-proofs bench-orders bench-revenue

bench-journal: $(STAMP)
	$(BIN)/python bench/journal_append.py

bench-proofs: $(STAMP)
	$(BIN)/python bench/proofs.py

bench-orders: $(STAMP)
	$(BIN)/python bench/orders_http.py

bench-revenue: $(STAMP)
	$(BIN)/python bench/revenue.py

clean:
	rm -rf $(VENV) var *.egg-info
