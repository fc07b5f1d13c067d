# Each target bootstraps .venv on its own: `make run` and `make test` work on a fresh clone.
VENV  ?= .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check fast-test lint bench clean

$(STAMP): pyproject.toml scripts/install
	@scripts/install $(VENV)
	@touch $(STAMP)

# Generated protobuf/gRPC code (src/anima/wire/pb, not committed): refreshed when protos/ changes.
PB := src/anima/wire/pb/.fingerprint
$(PB): $(STAMP) $(shell find protos -name '*.proto' 2>/dev/null) src/anima/wire/protogen.py
	@$(BIN)/python -m anima.wire.protogen -q

run: $(PB)
	$(BIN)/anima serve --log-format text

test: $(PB)
	$(BIN)/pytest -m "" -p no:cacheprovider

fast-test: $(PB)
	$(BIN)/pytest -m "not slow" -p no:cacheprovider -q

lint: $(PB)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

check: lint fast-test

bench: $(PB)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .anima .pytest_cache .mypy_cache .ruff_cache
