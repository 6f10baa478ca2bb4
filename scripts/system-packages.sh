# Sourced by scripts/setup.sh and scripts/vscode-test/install.sh: the one list of Debian packages
# Routelens needs on a development or CI machine, and the function that installs what is missing.
#
# - chromium: the browser the end-to-end tests and the demo drive (never a downloaded build)
# - libkrb5-dev, g++, make: code-server's native modules are built at install
# - python3 and the frameworks: the Python agent's tests, the demo API and the real-app tests
# - python3-debugpy: the real Python debugger the F5 tests run the apps under
# - python3-gunicorn: a real multi-worker server for the workers tests
# - python3-pytest: the test-traffic tests run real test clients under a real pytest
# - the client libraries apps call (requests, httpx, aiohttp, SQLAlchemy, the PostgreSQL drivers,
#   redis) and real PostgreSQL and Redis servers: the agent's client-span tests run against them
# - prometheus and python3-django-prometheus: a real Prometheus server scraping real exporters for
#   the remote-Prometheus tests
SYSTEM_PACKAGES=(
  chromium libkrb5-dev g++ make
  python3 python3-fastapi python3-starlette python3-uvicorn python3-flask python3-django
  python3-structlog python3-prometheus-client python3-httpx python3-websockets python3-debugpy
  python3-gunicorn python3-requests python3-aiohttp python3-sqlalchemy python3-psycopg2
  python3-psycopg python3-asyncpg python3-redis python3-pytest postgresql redis-server
  prometheus python3-django-prometheus
)

# Installs the missing SYSTEM_PACKAGES with apt-get as root or through password-less sudo; without
# either, prints the command to run and fails.
install_system_packages() {
  local missing=() p
  for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    printf '[setup] system packages: all %d present\n' "${#SYSTEM_PACKAGES[@]}"
    return 0
  fi
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      printf '[setup] ERROR: these Debian packages are missing and this user cannot install them (not root, no password-less sudo):\n' >&2
      printf '[setup]   %s\n' "${missing[*]}" >&2
      printf '[setup] Run this once, then the same command again:\n\n  sudo apt-get update && sudo apt-get install -y --no-install-recommends %s\n\n' "${missing[*]}" >&2
      return 1
    fi
  fi
  printf '[setup] apt-get: installing %s\n' "${missing[*]}"
  local t
  t=$(date +%s)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null ||
    { printf '[setup] ERROR: apt-get install failed for: %s\n' "${missing[*]}" >&2; return 1; }
  printf '[setup] apt-get: done in %d s\n' "$(($(date +%s) - t))"
}
