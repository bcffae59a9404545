#!/usr/bin/env bash
# The project's test command (README and .ci/run both run exactly this):
# install into .venv, then lint, type-check and run the whole test suite.
# PostgreSQL (127.0.0.1:5432, db "test") and Redis (127.0.0.1:6379) tests run for real;
# with CI=true their absence fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
# The portal's browser tests drive Debian's Chromium through Playwright (no browser download).
# Without it they skip locally and fail in CI; install it where we can (root with apt).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
# openapi-python-client (the generated-client test) in a venv of its own: it pins typer<0.28,
# which would downgrade the CLI's typer under the project.
python3 -m venv .venv-gen
.venv-gen/bin/python -m pip install -q 'openapi-python-client>=0.21'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# pytest exits 5 when it collected nothing; that is a failure here too (set -e keeps it).
.venv/bin/pytest "$@"
