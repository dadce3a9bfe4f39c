#!/usr/bin/env bash
# Fuzzes benchscope's parsers of outside input with libFuzzer (cargo-fuzz,
# on the nightly toolchain): the configuration file, the environment's
# values, the OTLP header string, results and baseline JSON, TLS PEM files
# (CA, client certificate, client key), the HTTP
# request heads of the Prometheus and live servers, and the live page's
# messages. Each target runs for FUZZ_SECONDS (default 600) from the seeds
# in fuzz/seeds plus what earlier runs found (fuzz/corpus); a crash stops the
# script and leaves its input in fuzz/artifacts/TARGET/ (reproduce with
# `cargo +nightly fuzz run TARGET ARTIFACT` in fuzz/).
#
#   bash scripts/fuzz.sh                     # every target, 10 minutes each
#   FUZZ_SECONDS=3600 bash scripts/fuzz.sh results_json
#
# The test command runs the same entry points for a bounded time on stable
# (tests/fuzz_inputs.rs).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-600}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(config_file env_values otlp_headers results_json tls_pem http_request live_message)
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz.sh: libFuzzer needs the nightly toolchain: rustup toolchain install nightly" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  echo "== $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added|SUMMARY|==[0-9]+==)' || true
  if ls "artifacts/$target"/crash-* >/dev/null 2>&1 || ls "artifacts/$target"/oom-* >/dev/null 2>&1; then
    echo "fuzz.sh: $target found a failing input: $(ls artifacts/$target)" >&2
    exit 1
  fi
done
