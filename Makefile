# Each target bootstraps .venv on its own: `make run` and `make test` work on a fresh clone.
VENV  ?= .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check fast-test lint bench clean

$(STAMP): pyproject.toml scripts/install
	@scripts/install $(VENV)
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/anima serve --log-format text

test: $(STAMP)
	$(BIN)/pytest -m "" -p no:cacheprovider

fast-test: $(STAMP)
	$(BIN)/pytest -m "not slow" -p no:cacheprovider -q

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

check: lint fast-test

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .anima .pytest_cache .mypy_cache .ruff_cache
