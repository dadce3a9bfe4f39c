#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need, then every test of
# the workspace (unit, integration, UI and doc tests).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

# VictoriaMetrics, the real OTLP backend of the end-to-end tests: Debian 12
# has no build with OTLP ingestion, so trixie's is fetched into target/tools
# (see the script; the system is not changed).
VICTORIA_METRICS_BIN=$(bash scripts/fetch-victoria-metrics.sh)
export VICTORIA_METRICS_BIN

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?
# One closing line for the whole run: cargo prints a result line per test
# binary, and the last of them (a crate without doc tests) reads "0 passed".
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
