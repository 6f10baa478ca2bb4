#!/usr/bin/env bash
# One command from a fresh clone to Routelens running in a real VS Code with live data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[demo] building"
npm run build --silent
exec node scripts/demo.mjs "$@"
