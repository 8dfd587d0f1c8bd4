#!/usr/bin/env bash
# Runs the tour example (it starts a throwaway redis-server unless REDIS_URL is set).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-redis.sh
cargo run --locked --quiet --example tour
