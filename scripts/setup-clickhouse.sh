#!/usr/bin/env bash
# Installs Debian's clickhouse-server for the viewer's ClickHouse store tests (idempotent).
# The tests start their own server (temporary data directory, loopback port); the system
# service this package ships is not needed and is not started here.
set -euo pipefail
version() {
  # Debian's 18.16 binary has no --version; the package database knows.
  dpkg-query -W -f='clickhouse-server ${Version}\n' clickhouse-server 2>/dev/null \
    || clickhouse server --version 2>/dev/null | head -n1 || true
}
if command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] \
  || command -v clickhouse >/dev/null 2>&1; then
  echo "clickhouse-server already installed: $(version)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends clickhouse-server
echo "installed: $(version)"
