#!/usr/bin/env bash
# Installs redis-server and redis-tools (redis-cli, for the local cluster) and openssl
# (certificates for the TLS test) with apt when they are missing. Used by scripts/tour.sh
# and scripts/test.sh.
set -euo pipefail
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
  && command -v openssl >/dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "Installing redis-server, redis-tools and openssl with apt..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools openssl >/dev/null
# The tests start their own servers; the packaged service is not needed.
$sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
command -v redis-server >/dev/null && command -v redis-cli >/dev/null && command -v openssl >/dev/null
