#!/usr/bin/env bash
# The project's test command (README and .ci/run both run exactly this):
# install into .venv, then lint, type-check and run the whole test suite.
# PostgreSQL (127.0.0.1:5432, db "test") and Redis (127.0.0.1:6379) tests run for real;
# with CI=true their absence fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# pytest exits 5 when it collected nothing; that is a failure here too (set -e keeps it).
.venv/bin/pytest "$@"
