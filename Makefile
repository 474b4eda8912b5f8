# The README's commands: `make demo` and `make test`. Needs only Python 3.11 and make.

PYTHON_BOOTSTRAP := $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv browser lint test demo bench clean

venv: $(STAMP)

# Reinstalls whenever requirements.txt or constraints.txt changes.
$(STAMP): requirements.txt constraints.txt
	@test -n "$(PYTHON_BOOTSTRAP)" || { echo "make: neither python3.11 nor python3 is on PATH" >&2; exit 1; }
	@$(PYTHON_BOOTSTRAP) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "make: Python 3.11 or newer is needed; $(PYTHON_BOOTSTRAP) is older" >&2; exit 1; }
	test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt -c constraints.txt
	touch $(STAMP)

# Best effort: installs the system's Chromium for the browser test where it can (root, apt-get), else says why
# in one line; COC_NO_BROWSER_INSTALL=1 turns it off. The test skips, naming what is missing, without a browser.
browser:
	@sh scripts/install-browser.sh

# Lint, format, types and import contracts of plugin/, worker/ and webhooks/, as configured in pyproject.toml;
# `make test` runs it before the tests, so CI checks them too.
lint: venv
	$(PY) -m ruff check
	$(PY) -m ruff format --check
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

test: venv lint browser
	$(PY) -m pytest $(PYTEST_ARGS)

demo: venv
	$(PY) -m plugin demo

# Each bench/<name>.py runs as the module bench.<name> from the repo root (files starting with _ are helpers).
bench: venv
	@found=0; \
	for file in bench/*.py; do \
		[ -e "$$file" ] || continue; \
		name=$$(basename "$$file" .py); \
		case "$$name" in _*) continue;; esac; \
		found=1; \
		echo "== bench/$$name.py"; \
		$(PY) -m "bench.$$name" || exit $$?; \
	done; \
	[ "$$found" = 1 ] || echo "no benchmarks yet"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-artifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
