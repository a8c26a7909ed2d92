# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test fuzz bench clean

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/emojid serve

test: $(STAMP)
	$(BIN)/ruff check emojid tests bench scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto

# Schemathesis for longer: FUZZ_EXAMPLES per operation (default 100), negative data too, every phase.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} $(BIN)/python -m pytest -q -s tests/test_fuzz.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) cache media mail emojid.db emojid.db-wal emojid.db-shm emojid.db.serve-lock .pytest_cache .mypy_cache
