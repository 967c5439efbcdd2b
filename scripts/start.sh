#!/usr/bin/env bash
# `npm start`: run the demo if there is one, else a local dev Redis (herald dev).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh

if [[ -f examples/demo/main.ts ]]; then
  exec node --import tsx examples/demo/main.ts "$@"
fi
exec node bin/herald.mjs dev "$@"
