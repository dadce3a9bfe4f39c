#!/usr/bin/env bash
# benchscope against its peers (benches/peers.rs, parts 1 to 4 of
# docs/PERFORMANCE.md) and its storage per month (benches/storage.rs, part
# 5), side by side in one run each: installs what they need (the test
# suite's packages, Prometheus 3 built from its Go module, VictoriaMetrics),
# then runs both. Takes about 20 minutes on 2 cores; set
# BENCHSCOPE_PERF_STORAGE_SECONDS to scrape for less (or more) than 600 s.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
# VictoriaMetrics, stored beside Prometheus in part 5 (see test.sh).
VICTORIA_METRICS_BIN=$(bash scripts/fetch-victoria-metrics.sh)
export VICTORIA_METRICS_BIN
PROMETHEUS3_BIN=$(bash scripts/build-prometheus.sh)
export PROMETHEUS3_BIN
cargo bench -p benchscope-benches --bench peers "$@"
exec cargo bench -p benchscope-benches --bench storage
