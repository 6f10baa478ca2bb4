#!/usr/bin/env bash
# One command from a fresh clone to Routelens running in a real VS Code with live data.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for p in python3-fastapi python3-uvicorn; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[demo] installing ${need_apt[*]} (Debian packages for the demo API)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[demo] npm ci"
  npm ci --no-audit --no-fund
fi
bash scripts/vscode-test/install.sh
echo "[demo] building"
npm run build --silent
exec node scripts/demo.mjs "$@"
