#!/usr/bin/env bash
# Installs Debian's clickhouse-server for the viewer's ClickHouse store tests (idempotent).
# The tests start their own server (temporary data directory, loopback port); the system
# service this package ships is not needed and is not started here.
set -euo pipefail
if command -v clickhouse-server >/dev/null 2>&1 || command -v clickhouse >/dev/null 2>&1; then
  echo "clickhouse-server already installed: $( (clickhouse-server --version || clickhouse --version) 2>/dev/null | head -n1 || true)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
# policy-rc.d-free: the package's postinst may try to start the service; a failure there
# must not fail the install on a machine without systemd.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends clickhouse-server clickhouse-client \
  || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends clickhouse-server
(clickhouse-server --version 2>/dev/null || clickhouse --version 2>/dev/null || dpkg-query -W clickhouse-server) | head -n1
