#!/usr/bin/env bash
# Builds the OpenTelemetry Collector distribution of
# collector-config/builder-config.yaml (the Collector builder's manifest:
# core and contrib modules at one release) into
# target/tools/otelcol-benchscope/, from the Collector's published Go modules
# through the Go module proxy. Cached: nothing is rebuilt while the binary
# exists and the manifest is unchanged. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."

manifest=collector-config/builder-config.yaml
release=$(awk '/^  version:/ { print $2; exit }' "$manifest")
out=target/tools/otelcol-benchscope
bin="$out/otelcol-benchscope"
stamp="$out/.manifest.sha256"
sum=$(sha256sum "$manifest" | cut -d' ' -f1)
if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
  echo "$PWD/$bin"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-collector: the Go toolchain is needed to build the Collector (go on PATH)" >&2
  exit 1
fi
tools="$PWD/target/tools/bin"
mkdir -p "$tools"
if [ ! -x "$tools/builder" ] || ! "$tools/builder" version 2>/dev/null | grep -q "$release"; then
  echo "build-collector: installing the Collector builder v$release" >&2
  GOBIN="$tools" go install "go.opentelemetry.io/collector/cmd/builder@v$release" >&2
fi
echo "build-collector: building the Collector v$release (a few minutes the first time)" >&2
start=$(date +%s)
"$tools/builder" --config "$manifest" >&2
echo "build-collector: built in $(( $(date +%s) - start )) s" >&2
echo "$sum" > "$stamp"
echo "$PWD/$bin"
