# hypersight: `make demo` starts the whole system on embedded defaults,
# `make test` installs everything and runs the checks CI runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# Debian/Ubuntu packages the system and its tests run on.
APT_PACKAGES := python3 python3-venv python3-dev ffmpeg redis-server postgresql

.PHONY: help system venv test lint pytest demo bench clean

help:
	@echo "make demo   start the whole system on embedded defaults (SQLite, private Redis, sample stream)"
	@echo "make test   install what is needed, then run ruff and the test suite"
	@echo "make bench  run the benchmarks in bench/ (results go to bench/BENCHMARKS.md by hand)"

# Install the missing apt packages only, so that a machine that has them needs no network.
system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

venv: system $(BIN)/.installed

lint: venv
	$(BIN)/ruff check .

pytest: venv
	$(BIN)/python -m pytest

test: lint pytest

demo: venv
	$(BIN)/python -m server.demo

bench: venv
	$(BIN)/python bench/api_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
