# hypersight: `make demo` starts the whole system on embedded defaults,
# `make test` installs everything and runs the checks CI runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# Debian/Ubuntu packages the system runs on, and those its tests need besides.
APT_PACKAGES := python3 python3-venv python3-dev ffmpeg redis-server
TEST_APT_PACKAGES := postgresql systemd python3-seccomp
# The admin's browser tests drive Debian's chromium. Ubuntu has no such package (its
# chromium is a snap), so these are installed where apt has them; the browser tests skip elsewhere.
BROWSER_APT_PACKAGES := chromium chromium-driver
SAMPLE_VIDEO := $(firstword $(wildcard $(HYPERSIGHT_SAMPLE_VIDEO) ../shared/data/vtest.avi \
	/usr/share/doc/opencv-doc/examples/data/vtest.avi))

.PHONY: help system test-system venv test lint pytest demo sample-video bench clean

help:
	@echo "make demo   start the whole system on embedded defaults (SQLite, private Redis, sample stream)"
	@echo "make test   install what is needed, then run ruff and the test suite"
	@echo "make bench  run the benchmarks in bench/ (results go to bench/BENCHMARKS.md by hand)"

# Install the missing apt packages only, so that a machine that has them needs no network.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$(echo $$missing)" ]; then \
		echo "installing: $$missing"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

# Install those of the packages apt knows here; say which it does not.
define apt_install_available
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$(echo $$missing)" ]; then \
		$(SUDO) apt-get update -q; \
		found=$$(for p in $$missing; do apt-cache show $$p >/dev/null 2>&1 && echo $$p; done); \
		absent=$$(for p in $$missing; do apt-cache show $$p >/dev/null 2>&1 || echo $$p; done); \
		[ -z "$$(echo $$absent)" ] || echo "not available from apt here (their tests will skip):" $$absent; \
		[ -z "$$(echo $$found)" ] || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
			--no-install-recommends $$found; \
	fi
endef

system:
	$(call apt_install,$(APT_PACKAGES))

test-system:
	$(call apt_install,$(APT_PACKAGES) $(TEST_APT_PACKAGES))
	$(call apt_install_available,$(BROWSER_APT_PACKAGES))

# The admin site's player (hls.js) and chart (chart.js), pinned in package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund
	touch $@

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

venv: system $(BIN)/.installed node_modules/.installed

lint: venv
	$(BIN)/ruff check .

pytest: test-system venv
	$(BIN)/python -m pytest

test: test-system lint pytest

# The sample video: HYPERSIGHT_SAMPLE_VIDEO, the shared test data, else Debian's opencv-doc copy.
sample-video:
	@if [ -z "$(SAMPLE_VIDEO)" ]; then \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q opencv-doc; \
	fi

demo: venv sample-video
	$(BIN)/python -m server.demo

bench: venv
	$(BIN)/python bench/api_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
