#!/usr/bin/env bash
# Installs the linters the CI examples in docs/ci/ and the Grafana dashboards
# are checked with, into target/tools: actionlint (GitHub Actions workflows),
# built from its Go module through the Go module proxy; check-jsonschema
# (GitLab CI, with the GitLab CI schema it ships), into a Python virtual
# environment from the machine's configured package index; and
# scripts/dashboard-check (dashboards against Grafana's published schema, on
# the Grafana Foundation SDK's Go module). Cached: nothing is installed again
# while it exists and its sources are unchanged. Prints `ACTIONLINT_BIN=...`,
# `CHECK_JSONSCHEMA_BIN=...` and `DASHBOARD_CHECK_BIN=...`, one per line.
set -euo pipefail
cd "$(dirname "$0")/.."

actionlint_version=v1.7.12
check_jsonschema_version=0.39.0
tools="$PWD/target/tools"
actionlint="$tools/actionlint-$actionlint_version/actionlint"
venv="$tools/check-jsonschema-$check_jsonschema_version"
check_jsonschema="$venv/bin/check-jsonschema"

# Says what is being built, after checking that Go is there to build it.
building() {
  if ! command -v go >/dev/null 2>&1; then
    echo "ci-linters: the Go toolchain is needed to build $1 (go on PATH)" >&2
    exit 1
  fi
  echo "ci-linters: building $1" >&2
}

if [ ! -x "$actionlint" ]; then
  building "actionlint $actionlint_version"
  GOBIN="$(dirname "$actionlint")" go install "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version" >&2
fi
if [ ! -x "$check_jsonschema" ]; then
  echo "ci-linters: installing check-jsonschema $check_jsonschema_version" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet "check-jsonschema==$check_jsonschema_version" >&2
fi
checker_sum=$(cat scripts/dashboard-check/go.mod scripts/dashboard-check/go.sum scripts/dashboard-check/*.go | sha256sum | cut -c1-12)
dashboard_check="$tools/dashboard-check-$checker_sum/dashboard-check"
if [ ! -x "$dashboard_check" ]; then
  building dashboard-check
  (cd scripts/dashboard-check && go build -o "$dashboard_check" .) >&2
fi
echo "ACTIONLINT_BIN=$actionlint"
echo "DASHBOARD_CHECK_BIN=$dashboard_check"
echo "CHECK_JSONSCHEMA_BIN=$check_jsonschema"
