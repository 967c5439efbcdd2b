#!/usr/bin/env bash
# The whole test command (`npm test`): deps, typecheck, lint, format, then the test suite.
# Arguments are path filters for the test runner: `npm test -- src/redis`.
# Quick run without the checks: node --import tsx scripts/run-tests.mjs src/redis
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "ensure deps"
bash scripts/ensure-deps.sh redis-server prometheus chromium haproxy kubectl

step "typecheck: tsc --noEmit -p ."
npx tsc --noEmit -p .

step "lint: eslint ."
npx eslint .

step "format: prettier --check ."
npx prettier --check --log-level warn .

step "tests: scripts/run-tests.mjs $*"
node --import tsx scripts/run-tests.mjs "$@"
