#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, integration (SQLite and PostgreSQL; an S3 bucket
# served by moto) and end-to-end (headless Chromium) tests. Installs and starts what the tests
# need when it can.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# Headless Chromium and its driver for the end-to-end tests (Debian packages).
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver"
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
    || echo "could not install chromium; browser tests will be skipped outside CI"
fi

# axe-core (npm registry) for the automated accessibility checks in the browser tests.
if [ ! -f target/npm/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null 2>&1; then
  npm install --silent --no-audit --no-fund --prefix target/npm axe-core@4.14.1 >/dev/null \
    || echo "could not install axe-core; accessibility checks will be skipped outside CI"
fi

# moto (PyPI) for the tests of documents kept in an S3-compatible bucket: they start its server on
# a loopback port themselves.
if [ ! -x target/moto/bin/moto_server ] && command -v python3 >/dev/null 2>&1; then
  echo "installing moto"
  python3 -m venv target/moto >/dev/null 2>&1 \
    || { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
         && python3 -m venv target/moto; } || true
  target/moto/bin/pip install -q 'moto[server]==5.2.5' >/dev/null \
    || echo "could not install moto; S3 tests will be skipped outside CI"
fi

# PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres); tests create and drop their databases.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
