#!/usr/bin/env bash
# Installs the linters the CI examples in docs/ci/ are checked with, into
# target/tools: actionlint (GitHub Actions workflows), built from its Go
# module through the Go module proxy, and check-jsonschema (GitLab CI, with
# the GitLab CI schema it ships), into a Python virtual environment from
# the machine's configured package index. Cached: nothing is installed
# again while both exist. Prints `ACTIONLINT_BIN=...` and
# `CHECK_JSONSCHEMA_BIN=...`, one per line.
set -euo pipefail
cd "$(dirname "$0")/.."

actionlint_version=v1.7.12
check_jsonschema_version=0.39.0
tools="$PWD/target/tools"
actionlint="$tools/actionlint-$actionlint_version/actionlint"
venv="$tools/check-jsonschema-$check_jsonschema_version"
check_jsonschema="$venv/bin/check-jsonschema"

if [ ! -x "$actionlint" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "ci-linters: the Go toolchain is needed to build actionlint (go on PATH)" >&2
    exit 1
  fi
  echo "ci-linters: building actionlint $actionlint_version" >&2
  GOBIN="$(dirname "$actionlint")" go install "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version" >&2
fi
if [ ! -x "$check_jsonschema" ]; then
  echo "ci-linters: installing check-jsonschema $check_jsonschema_version" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet "check-jsonschema==$check_jsonschema_version" >&2
fi
echo "ACTIONLINT_BIN=$actionlint"
echo "CHECK_JSONSCHEMA_BIN=$check_jsonschema"
