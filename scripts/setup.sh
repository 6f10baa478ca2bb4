#!/usr/bin/env bash
# The one setup every entry point runs (`npm run demo`, `npm test`, `.ci/run`): the Debian packages
# the extension, its tests and the demo need, the npm packages, and the test copy of VS Code.
# Idempotent and quick when everything is present (about a second).
#
#   bash scripts/setup.sh            everything
#   bash scripts/setup.sh --no-npm   skip `npm ci` (when the caller is itself an npm script that
#                                    already needs node_modules, or has just run it)
#
# System packages are installed when running as root or with password-less sudo; otherwise it stops
# at once and prints the one apt command to run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
START=$(date +%s)

# Everything Debian must provide. The test VS Code's install (scripts/vscode-test/install.sh) reads
# this list too, so there is one place to change it.
# shellcheck source=scripts/system-packages.sh
source "$ROOT/scripts/system-packages.sh"

with_npm=1
for a in "$@"; do
  case "$a" in
    --no-npm) with_npm=0 ;;
    *) die "unknown option $a" ;;
  esac
done

# --- Debian packages ---------------------------------------------------------------------------
install_system_packages

# --- npm packages ------------------------------------------------------------------------------
if ((with_npm)); then
  if [[ ! -f node_modules/.package-lock.json ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
    log "npm ci"
    t=$(date +%s)
    npm ci --no-audit --no-fund --loglevel=error
    log "npm ci: done in $(($(date +%s) - t)) s"
  else
    log "npm packages: up to date"
  fi
fi

# --- the test VS Code (code-server + Node 24) --------------------------------------------------
ROUTELENS_SKIP_SYSTEM_PACKAGES=1 bash "$ROOT/scripts/vscode-test/install.sh"

log "ready in $(($(date +%s) - START)) s"
