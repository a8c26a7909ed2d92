# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Bytecode lets the suite's many Python processes (workers, servers, CLI commands) skip
# compiling emojid and the tests each time: PYTHONDONTWRITEBYTECODE set in the
# environment would make every one of them compile it all again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test fuzz bench clean

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# --no-compile: pip would byte-compile every installed file (~15 s); Python compiles
	# what is imported, once, on first use (see unexport above).
	$(BIN)/python -m pip install --quiet --no-compile -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/emojid serve

test: $(STAMP)
	$(BIN)/ruff check emojid tests bench scripts
	$(BIN)/mypy
	# One worker more than CPUs: tests also wait (sockets, Chromium, servers in subprocesses).
	$(BIN)/python -m pytest -n $$(( $$(nproc) + 1 ))

# Schemathesis for longer: FUZZ_EXAMPLES per operation (default 100), negative data too, every phase.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} $(BIN)/python -m pytest -q -s tests/test_fuzz.py

# The load figures need wrk (Debian package): installed here when missing and running as
# root; otherwise bench/run.py skips them with one line. BENCH_SECONDS: length of each
# wrk run (default 60); BENCH_ARGS="--only load,attacks" runs only those sections.
bench: $(STAMP)
	@if ! command -v wrk >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 \
	    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } \
	    || echo "bench: could not install wrk: the load figures will be skipped"; \
	fi
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) cache media mail emojid.db emojid.db-wal emojid.db-shm emojid.db.serve-lock .pytest_cache .mypy_cache
