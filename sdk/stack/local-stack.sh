#!/usr/bin/env bash
# The monitoring stack without Docker: Prometheus, Alertmanager and
# node_exporter from Debian's packages, on loopback, with this directory's
# prometheus.yml, alerts.yaml and alertmanager.yml. Runs in the foreground;
# Ctrl-C (or SIGTERM) stops the servers and waits for them to exit.
#
#   bash monitoring/local-stack.sh    # Prometheus :9090, Alertmanager :9093, node_exporter :9100
#   bash monitoring/local-stack.sh --help
#
# Prometheus 3 instead of Debian's 2.42: --prometheus-bin (or PROMETHEUS_BIN)
# names its binary, e.g. the one scripts/build-prometheus.sh builds; promtool
# is taken from beside it.
#
# Then run a suite that serves /metrics where the stack scrapes it, e.g.
#   cargo run --release --example quickstart -- --exporters prometheus --serve-after 60s
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

prometheus_addr=127.0.0.1:9090
alertmanager_addr=127.0.0.1:9093
node_exporter_addr=127.0.0.1:9100
targets=()
collector_targets=()
webhook_url=""
run_dir="$root/target/monitoring-stack"
retention=30d
prometheus_bin=${PROMETHEUS_BIN:-}

usage() {
  cat <<EOF
Usage: $0 [options]

Starts Prometheus, Alertmanager and node_exporter on loopback with monitoring/'s
configuration and keeps them running until interrupted. Installs Debian's
prometheus, prometheus-alertmanager and prometheus-node-exporter packages first
if they are missing (as root).

Options:
  --prometheus-addr ADDR    Prometheus listen address (default $prometheus_addr)
  --alertmanager-addr ADDR  Alertmanager listen address (default $alertmanager_addr)
  --node-exporter-addr ADDR node_exporter listen address (default $node_exporter_addr)
  --target ADDR             a benchscope /metrics address to scrape every second;
                            repeat for more (default 127.0.0.1:9464, unless
                            only --collector-target is given)
  --collector-target ADDR   an OpenTelemetry Collector's Prometheus exporter
                            (collector-config/otlp-to-prometheus.yaml) to
                            scrape every second, keeping its job and instance
  --webhook-url URL         where the webhook receiver posts alerts (replaces the
                            url in this stack's copy of alertmanager.yml)
  --run-dir DIR             configuration copies, data and logs
                            (default target/monitoring-stack; data is kept)
  --retention DURATION      Prometheus retention (default $retention)
  --prometheus-bin PATH     the Prometheus server to run (default: \$PROMETHEUS_BIN,
                            else Debian's on the PATH); promtool beside it is used
                            when there is one. Prometheus 3 also stores exemplars
  -h, --help                this text

Secrets for the PagerDuty and Slack receivers come from the environment
variables PAGERDUTY_ROUTING_KEY and SLACK_WEBHOOK_URL; without them those
receivers fail to send (Alertmanager logs it) and the webhook still works.
EOF
}

fail() {
  echo "local-stack: $*" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --prometheus-addr) prometheus_addr=${2:?--prometheus-addr needs an address}; shift 2 ;;
    --alertmanager-addr) alertmanager_addr=${2:?--alertmanager-addr needs an address}; shift 2 ;;
    --node-exporter-addr) node_exporter_addr=${2:?--node-exporter-addr needs an address}; shift 2 ;;
    --target) targets+=("${2:?--target needs an address}"); shift 2 ;;
    --collector-target) collector_targets+=("${2:?--collector-target needs an address}"); shift 2 ;;
    --webhook-url) webhook_url=${2:?--webhook-url needs a URL}; shift 2 ;;
    --run-dir) run_dir=${2:?--run-dir needs a directory}; shift 2 ;;
    --retention) retention=${2:?--retention needs a duration such as 30d}; shift 2 ;;
    --prometheus-bin) prometheus_bin=${2:?--prometheus-bin needs a path}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; fail "unknown option '$1' (see --help)" ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || [ ${#collector_targets[@]} -gt 0 ] || targets=(127.0.0.1:9464)

for addr in "$prometheus_addr" "$alertmanager_addr" "$node_exporter_addr"; do
  case "$addr" in
    127.*:* | localhost:* | \[::1\]:*) ;;
    *) fail "'$addr' is not a loopback address: the local stack listens on loopback only (e.g. 127.0.0.1:9090)" ;;
  esac
done

# The servers, from Debian's packages (installed when missing).
packages=(prometheus prometheus-alertmanager prometheus-node-exporter)
if [ -n "$prometheus_bin" ] && [ ! -x "$prometheus_bin" ]; then
  fail "--prometheus-bin '$prometheus_bin' is not an executable file (scripts/build-prometheus.sh builds Prometheus 3)"
fi
find_servers() {
  alertmanager_bin=$(command -v prometheus-alertmanager || command -v alertmanager || true)
  node_exporter_bin=$(command -v prometheus-node-exporter || command -v node_exporter || true)
  server_bin=${prometheus_bin:-$(command -v prometheus || true)}
  if [ -n "$prometheus_bin" ] && [ -x "$(dirname "$prometheus_bin")/promtool" ]; then
    promtool_bin="$(dirname "$prometheus_bin")/promtool"
  else
    promtool_bin=$(command -v promtool || true)
  fi
  [ -n "$server_bin" ] && [ -n "$promtool_bin" ] &&
    [ -n "$alertmanager_bin" ] && [ -n "$node_exporter_bin" ]
}
if ! find_servers; then
  if [ "$(id -u)" -ne 0 ]; then
    fail "Prometheus, Alertmanager or node_exporter is missing; install them with: sudo apt-get install ${packages[*]}"
  fi
  echo "local-stack: installing ${packages[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}" >&2 ||
    { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}" >&2; }
  find_servers || fail "the packages ${packages[*]} did not provide prometheus, promtool, alertmanager and node_exporter"
fi
amtool_bin=$(command -v amtool || true)
# Prometheus 2 rejects the settings prometheus.yml marks `# Prometheus 3`.
prometheus_major=$("$server_bin" --version 2>&1 | sed -n 's/^prometheus, version \([0-9]*\).*/\1/p' | head -n 1)
prometheus_major=${prometheus_major:-3}

# This stack's copies of the configuration: the rule and Prometheus files
# verbatim, Alertmanager's with the webhook URL replaced when one is given, and
# file_sd targets with loopback addresses.
config="$run_dir/config"
mkdir -p "$config/targets" "$config/secrets" "$run_dir/data/prometheus" "$run_dir/data/alertmanager"
cp "$here/alerts.yaml" "$config/"
if [ "$prometheus_major" -ge 3 ]; then
  cp "$here/prometheus.yml" "$config/"
else
  grep -v '# Prometheus 3$' "$here/prometheus.yml" >"$config/prometheus.yml"
fi
# The secrets' files move from the container's mount point to the run
# directory; the webhook URL is replaced when one is given.
edits=(-e "s#/etc/alertmanager/secrets/#$config/secrets/#")
if [ -n "$webhook_url" ]; then
  grep -q '^      - url: ' "$here/alertmanager.yml" || fail "alertmanager.yml has no webhook url line to replace"
  edits+=(-e "s#^      - url: .*#      - url: $webhook_url#")
fi
sed "${edits[@]}" "$here/alertmanager.yml" >"$config/alertmanager.yml"
rm -f "$config"/targets/*.yml
if [ ${#targets[@]} -gt 0 ]; then
  {
    echo "- targets:"
    for t in "${targets[@]}"; do echo "    - $t"; done
  } >"$config/targets/benchscope.yml"
fi
if [ ${#collector_targets[@]} -gt 0 ]; then
  {
    echo "- targets:"
    for t in "${collector_targets[@]}"; do echo "    - $t"; done
  } >"$config/targets/collector.yml"
fi
echo "- targets: [$prometheus_addr]" >"$config/targets/prometheus.yml"
echo "- targets: [$alertmanager_addr]" >"$config/targets/alertmanager.yml"
echo "- targets: [$node_exporter_addr]" >"$config/targets/node.yml"
umask_old=$(umask)
umask 077
[ -z "${PAGERDUTY_ROUTING_KEY:-}" ] || printf '%s' "$PAGERDUTY_ROUTING_KEY" >"$config/secrets/pagerduty_routing_key"
[ -z "${SLACK_WEBHOOK_URL:-}" ] || printf '%s' "$SLACK_WEBHOOK_URL" >"$config/secrets/slack_webhook_url"
umask "$umask_old"
[ -n "${PAGERDUTY_ROUTING_KEY:-}" ] ||
  echo "note: PAGERDUTY_ROUTING_KEY is not set; critical alerts still reach the webhook, but the pagerduty receiver will log delivery errors" >&2
[ -n "${SLACK_WEBHOOK_URL:-}" ] ||
  echo "note: SLACK_WEBHOOK_URL is not set; warnings will log delivery errors instead of reaching Slack" >&2

"$promtool_bin" check config "$config/prometheus.yml" >"$run_dir/promtool.log" 2>&1 ||
  { cat "$run_dir/promtool.log" >&2; fail "prometheus.yml does not pass promtool check config"; }
if [ -n "$amtool_bin" ]; then
  "$amtool_bin" check-config "$config/alertmanager.yml" >"$run_dir/amtool.log" 2>&1 ||
    { cat "$run_dir/amtool.log" >&2; fail "alertmanager.yml does not pass amtool check-config"; }
fi

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "local-stack: stopped" >&2
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

# --web.enable-admin-api allows TSDB snapshots (docs/operations.md); it is safe
# here because Prometheus listens on loopback only.
features=()
[ "$prometheus_major" -lt 3 ] || features=(--enable-feature=exemplar-storage)
"$server_bin" \
  --config.file="$config/prometheus.yml" \
  --storage.tsdb.path="$run_dir/data/prometheus" \
  --storage.tsdb.retention.time="$retention" \
  --web.listen-address="$prometheus_addr" \
  --web.enable-admin-api \
  "${features[@]}" \
  >"$run_dir/prometheus.log" 2>&1 &
pids+=($!)

# An empty cluster address turns clustering off, which would otherwise listen
# on every interface.
"$alertmanager_bin" \
  --config.file="$config/alertmanager.yml" \
  --storage.path="$run_dir/data/alertmanager" \
  --web.listen-address="$alertmanager_addr" \
  --cluster.listen-address= \
  >"$run_dir/alertmanager.log" 2>&1 &
pids+=($!)

"$node_exporter_bin" --web.listen-address="$node_exporter_addr" >"$run_dir/node-exporter.log" 2>&1 &
pids+=($!)

wait_ready() {
  local name=$1 url=$2 log=$3
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; fail "$name exited during start-up (log: $log)"; }
    done
    sleep 0.2
  done
  tail -n 20 "$log" >&2
  fail "$name was not ready after 30 s (log: $log)"
}
wait_ready Prometheus "http://$prometheus_addr/-/ready" "$run_dir/prometheus.log"
wait_ready Alertmanager "http://$alertmanager_addr/-/ready" "$run_dir/alertmanager.log"
wait_ready node_exporter "http://$node_exporter_addr/metrics" "$run_dir/node-exporter.log"

echo "prometheus: http://$prometheus_addr (version $("$server_bin" --version 2>&1 | head -n 1 | sed 's/^prometheus, version \([^ ]*\).*/\1/'))"
echo "alertmanager: http://$alertmanager_addr"
echo "node_exporter: http://$node_exporter_addr"
echo "scraping: ${targets[*]} ${collector_targets[*]} (every 1s)"
echo "logs and data: $run_dir"
echo "ready (Ctrl-C stops the stack)"

# Run until interrupted, or until one of the servers dies.
set +e
wait -n "${pids[@]}"
status=$?
echo "local-stack: a server exited (status $status); see $run_dir/*.log" >&2
exit 1
