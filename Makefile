# The two commands of the README: `make demo` and `make test`. Both set up everything themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# System packages the tests drive for real: an IMAP server, tmux for the end-to-end test,
# Chromium to render the HTML report.
APT_PACKAGES := dovecot-imapd tmux chromium
PYTEST_ARGS ?=
# bench/ joins the lint once it exists (ruff fails on a missing path).
LINT_PATHS := store mail tui tests $(wildcard bench)

.PHONY: demo test lint bench-sync bench-tui bench-announce system-packages clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rapport demo

# apt only when root and something is missing: a developer's own machine is left alone.
system-packages:
	@missing=""; \
	command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-imapd"; \
	command -v tmux >/dev/null 2>&1 || missing="$$missing tmux"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "not root: tests needing$$missing will be skipped"; \
	  fi; \
	fi

test: $(TEST_STAMP) system-packages
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/lint-imports

bench-sync: $(TEST_STAMP)
	$(PY) bench/sync_bench.py

bench-tui: $(TEST_STAMP)
	$(PY) bench/tui_bench.py

bench-announce: $(TEST_STAMP)
	$(PY) bench/announce_bench.py

clean:
	rm -rf $(VENV) build *.egg-info
