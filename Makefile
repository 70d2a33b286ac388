# The two commands of the README: `make demo` and `make test`. Both set up everything themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Written only once the venv has a working pip: a half-made .venv (python3 -m venv without
# ensurepip leaves bin/python and no pip) is never mistaken for a finished one.
VENV_OK := $(VENV)/.venv-ok
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# System packages the tests drive for real: an IMAP server, tmux for the end-to-end test,
# Chromium to render the HTML report, Postfix to produce real bounces (a private instance the
# tests start on 127.0.0.1; the system one is left unconfigured, so it never starts), and
# poppler-utils for pdftotext (a PDF attachment shown as text; the tests skip that part without it).
APT_PACKAGES := dovecot-imapd tmux chromium postfix poppler-utils
PYTEST_ARGS ?=
# bench/ joins the lint once it exists (ruff fails on a missing path).
LINT_PATHS := store mail tui tests $(wildcard bench)

.PHONY: demo test lint typecheck courier-imap bench-sync bench-search bench-tui bench-announce bench-speed system-packages clean

# apt-get only when root and something is missing: a developer's own machine is left alone.
# $(call apt_install,PACKAGES,what happens without them)
define apt_install
if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
  echo "installing: $(1)"; \
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; \
else \
  echo "not root: $(2) (install $(1))"; \
fi
endef

$(VENV_OK):
	@command -v $(PYTHON) >/dev/null 2>&1 || \
	  { echo "make: $(PYTHON) not found; Rapport needs Python 3.11 or newer"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "make: Rapport needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1)"; exit 1; }
	@if $(PY) -m pip --version >/dev/null 2>&1; then touch $@; exit 0; fi; \
	$(PYTHON) -c 'import ensurepip' >/dev/null 2>&1 || \
	  { $(call apt_install,python3-venv,python3 -m venv may fail); }; \
	rm -rf $(VENV); \
	if $(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q --upgrade pip; then \
	  touch $@; \
	else \
	  rm -rf $(VENV); \
	  echo "make: could not create $(VENV) with $(PYTHON) (Debian/Ubuntu: apt-get install python3-venv)"; \
	  exit 1; \
	fi

$(STAMP): pyproject.toml | $(VENV_OK)
	$(PY) -m pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(VENV_OK)
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rapport demo

system-packages:
	@missing=""; \
	command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-imapd"; \
	command -v tmux >/dev/null 2>&1 || missing="$$missing tmux"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -x /usr/lib/postfix/sbin/master ] || missing="$$missing postfix"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ "$$(id -u)" = 0 ] && command -v debconf-set-selections >/dev/null 2>&1; then \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	fi; \
	if [ -n "$$missing" ]; then \
	  $(call apt_install,$$missing,tests needing$$missing will be skipped); \
	fi

# Courier-IMAP, the second real server, conflicts with dovecot-imapd as a package: its .debs are
# fetched and unpacked into ~/.cache/rapport-tests instead (apt-get update first as root when
# the package lists are missing); without them its tests are skipped with the reason.
courier-imap: $(TEST_STAMP)
	@$(PY) tests/courier_install.py --install || true

test: $(TEST_STAMP) system-packages courier-imap typecheck
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(TEST_STAMP) typecheck
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/lint-imports

# The benchmarks print our figure beside the peer's: mbsync (isync) for sync, notmuch for search.
bench-sync: $(TEST_STAMP) system-packages
	@command -v mbsync >/dev/null 2>&1 || { $(call apt_install,isync,no mbsync figure); }
	$(PY) bench/sync_bench.py

bench-search: $(TEST_STAMP)
	@command -v notmuch >/dev/null 2>&1 || { $(call apt_install,notmuch,no notmuch figure); }
	$(PY) bench/search_bench.py

bench-tui: $(TEST_STAMP)
	$(PY) bench/tui_bench.py

bench-announce: $(TEST_STAMP)
	$(PY) bench/announce_bench.py

# Issue 15's launch and CLI figures in one run: TUI launch in tmux at 80x24 (bare Textual app,
# neomutt when installed), `status --json` and `search` beside a bare interpreter.
bench-speed: $(TEST_STAMP)
	@command -v tmux >/dev/null 2>&1 || { $(call apt_install,tmux,no TUI launch figure); }
	$(PY) bench/speed_bench.py

# mypy cannot follow the editable install's import hook for the package-dir mapping
# (store/ -> rapport.store), so it reads the three folders through links named as they install.
# Strictness per package is in pyproject.toml: --strict for store and mail, plain for tui.
MYPY_LINKS := build/mypy/rapport
typecheck: $(TEST_STAMP)
	@mkdir -p $(MYPY_LINKS)
	@for p in store mail tui; do ln -sfn ../../../$$p $(MYPY_LINKS)/$$p; done
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build *.egg-info
