#!/usr/bin/env bash
# Builds Prometheus 3 (the server and promtool) from its published Go module
# through the Go module proxy into target/tools/prometheus-<version>/, as
# the Collector is built. The tests run it beside Debian's Prometheus 2.42
# (native histograms, exemplars, what users run today). Cached: nothing is
# rebuilt while both binaries exist. Prints the server's path; promtool is
# beside it.
#
# The module's versions are v0.3MM.P for Prometheus 3.MM.P. Built lean, as
# Prometheus's own build allows: without the cloud service discoveries
# (`-tags remove_all_sd`; file and HTTP discovery stay, and the stacks here
# use file_sd), which cuts the build from about ten minutes to under three
# on 2 cores, and without the web UI's assets (they need Node.js). The API,
# the scraper, the rule engine and the TSDB are the release's.
set -euo pipefail
cd "$(dirname "$0")/.."

module_version=v0.316.0
minor=${module_version#v0.3}
minor=${minor%%.*}
release="3.$((10#$minor)).${module_version##*.}"
out="$PWD/target/tools/prometheus-$release"
if [ -x "$out/prometheus" ] && [ -x "$out/promtool" ]; then
  echo "$out/prometheus"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-prometheus: the Go toolchain is needed to build Prometheus $release (go on PATH)" >&2
  exit 1
fi
echo "build-prometheus: building Prometheus $release (a few minutes the first time)" >&2
start=$(date +%s)
mkdir -p "$out"
# The version is stamped as Prometheus's own release builds stamp it, so
# that `prometheus --version` names it.
GOBIN="$out" go install \
  -tags remove_all_sd \
  -ldflags "-X github.com/prometheus/common/version.Version=$release" \
  "github.com/prometheus/prometheus/cmd/prometheus@$module_version" \
  "github.com/prometheus/prometheus/cmd/promtool@$module_version" >&2
echo "build-prometheus: built in $(( $(date +%s) - start )) s" >&2
echo "$out/prometheus"
