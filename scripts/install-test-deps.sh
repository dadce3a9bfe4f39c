#!/usr/bin/env bash
# Installs the Debian packages the tests need, only those missing, as root.
# Used by scripts/test.sh and by the dev container (.devcontainer/).
set -euo pipefail

# Debian packages the tests need, installed only when missing, as root (valgrind
# for instruction counts): chromium and
# chromedriver for the browser tests; Prometheus (with promtool), Alertmanager (with amtool),
# node_exporter and curl for the monitoring stack (monitoring/local-stack.sh) and its tests.
packages=(chromium chromium-driver prometheus prometheus-alertmanager prometheus-node-exporter curl valgrind)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: missing packages ${missing[*]}; run as root or install them with apt-get" >&2
    exit 2
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
