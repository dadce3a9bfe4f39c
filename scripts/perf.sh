#!/usr/bin/env bash
# benchscope against its peers (benches/peers.rs), side by side in one run:
# installs what the storage measurement needs (Prometheus, with the test
# suite's other packages, and VictoriaMetrics), then runs the benchmark.
# Prints every figure of docs/PERFORMANCE.md. Takes about 10 minutes on 2
# cores; set BENCHSCOPE_PERF_STORAGE_SECONDS to scrape for less (or more)
# than 240 s.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
# VictoriaMetrics, stored beside Prometheus in part 5 (see test.sh).
VICTORIA_METRICS_BIN=$(bash scripts/fetch-victoria-metrics.sh)
export VICTORIA_METRICS_BIN
exec cargo bench -p benchscope-benches --bench peers "$@"
