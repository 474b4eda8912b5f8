"""The test suite (run from the repo root: `.venv/bin/python -m pytest`)."""
