#!/usr/bin/env bash
# README's test command: install what the tests use, start PostgreSQL, lint, type-check, test.
# Extra arguments go to pytest. As root it installs missing tools with apt-get; otherwise it says
# in one line what it skips for want of them.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

say() { echo "scripts/test.sh: $*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }

# Real device clients for the transport tests, Node.js for MicroPython, PostgreSQL, baselines.
apt_packages=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || apt_packages+=(postgresql)
command -v mosquitto_rr >/dev/null || apt_packages+=(mosquitto-clients)
command -v mosquitto >/dev/null || apt_packages+=(mosquitto)
command -v coap-client-notls >/dev/null || apt_packages+=(libcoap3-bin)
command -v nginx >/dev/null || apt_packages+=(nginx-light)
command -v npm >/dev/null || apt_packages+=(nodejs npm)
command -v unshare >/dev/null || apt_packages+=(util-linux)
# The simulator's HTML report is opened in a real browser (Playwright drives the system one).
command -v chromium >/dev/null || apt_packages+=(chromium)
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_packages+=(python3-venv)
if ((${#apt_packages[@]})); then
  if is_root && command -v apt-get >/dev/null; then
    apt-get update -q
    apt-get install -y -q "${apt_packages[@]}"
  else
    say "not root (or no apt-get): not installing ${apt_packages[*]}; tests that need them fail or skip"
  fi
fi

# PostgreSQL: every server test runs a second time against it.
if [ -n "${OTAKIT_TEST_POSTGRES_URL:-}" ]; then
  say "PostgreSQL: using OTAKIT_TEST_POSTGRES_URL as it is set"
elif is_root && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  pg_lsclusters -h | grep -q "^$pg_version main" || pg_createcluster "$pg_version" main
  pg_lsclusters -h | grep -q "^$pg_version main .* online" || pg_ctlcluster "$pg_version" main start
  for _ in $(seq 30); do pg_isready -q && break; sleep 1; done
  su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='otakit'\"" | grep -q 1 \
    || su postgres -c "psql -q -c \"CREATE ROLE otakit LOGIN PASSWORD 'otakit' CREATEDB\""
  # Test databases are dropped WITH (FORCE), which may have to stop an autovacuum worker.
  su postgres -c "psql -q -c 'GRANT pg_signal_backend TO otakit'"
  export OTAKIT_TEST_POSTGRES_URL=postgresql://otakit:otakit@127.0.0.1:5432/postgres
  export OTAKIT_TEST_REQUIRE_POSTGRES=1
else
  say "PostgreSQL half skipped: not root and OTAKIT_TEST_POSTGRES_URL is not set"
fi

# Real MicroPython (its WebAssembly port, from npm) runs the client core's tests.
if command -v npm >/dev/null; then
  (cd tests/client/micropython && npm ci --silent --no-audit --no-fund)
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q -e '.[test]'

ruff check .
ruff format --check .
mypy
lint-imports

# loadgroup: tests marked xdist_group("fleet") (whole simulated fleets) run one after another on
# one worker, so two fleets never share the two cores with the timing tests at once.
pytest -n 3 --dist loadgroup "$@"
