#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need, checks that every
# feature set of benchscope builds and passes its own tests, then runs every
# test of the workspace (unit, integration, UI and doc tests) with every
# feature on.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

# VictoriaMetrics, the real OTLP backend of the end-to-end tests: Debian 12
# has no build with OTLP ingestion, so trixie's is fetched into target/tools
# (see the script; the system is not changed).
VICTORIA_METRICS_BIN=$(bash scripts/fetch-victoria-metrics.sh)
export VICTORIA_METRICS_BIN

# The OpenTelemetry Collector the pipeline tests run, built from its Go
# modules (collector-config/builder-config.yaml) and cached in target/tools.
OTELCOL_BIN=$(bash scripts/build-collector.sh)
export OTELCOL_BIN

# Prometheus 3, built from its Go module and cached in target/tools: the
# tests run it beside Debian's 2.42 (native histograms, exemplars).
PROMETHEUS3_BIN=$(bash scripts/build-prometheus.sh)
export PROMETHEUS3_BIN

# The linters of the CI examples in docs/ci/ (actionlint from its Go
# module, check-jsonschema from the package index) and of the Grafana
# dashboards (scripts/dashboard-check), cached in target/tools.
eval "$(bash scripts/ci-linters.sh)"
export ACTIONLINT_BIN CHECK_JSONSCHEMA_BIN DASHBOARD_CHECK_BIN

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

# The feature sets that must not rot. With no default features and with the
# defaults, benchscope's own unit and doc tests run; every feature on its own
# is compiled and linted, `tls` with each OTLP transport. (All features
# together are the workspace's tests below: the test and benchmark packages
# enable them all.)
for set in "--no-default-features" ""; do
  echo "== benchscope tests, features: ${set:-default}" | tee -a "$log"
  cargo test -p benchscope $set 2>&1 | tee -a "$log" || status=$?
done
for feature in harness regex prometheus live otlp-http otlp-grpc otlp-http,tls otlp-grpc,tls tokio traces stdout history remote-history cli,tls cli report flamegraph cli,flamegraph; do
  echo "== benchscope with only the feature $feature" | tee -a "$log"
  cargo clippy -p benchscope --no-default-features --features "$feature" --all-targets -- -D warnings 2>&1 \
    | tee -a "$log" || status=$?
done

cargo test --workspace --no-fail-fast 2>&1 | tee -a "$log" || status=$?
# One closing line for the whole run: cargo prints a result line per test
# binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
