#!/usr/bin/env bash
# Puts Debian trixie's victoria-metrics binary (OTLP ingestion included) under
# target/tools, without touching the system: apt reads a private sources file
# naming the trixie suite on the mirror this machine's own apt sources use, and
# keeps its lists in a private directory; the package is downloaded, not
# installed, and unpacked with dpkg-deb. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="$PWD/target/tools"
bin="$tools/victoria-metrics/usr/bin/victoria-metrics"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

# The mirror, from the machine's own configuration (deb822 or one-line format).
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1 || true)
fi
if [ -z "$mirror" ]; then
  echo "fetch-victoria-metrics: no Debian mirror found in /etc/apt/sources.list*; cannot download victoria-metrics" >&2
  exit 1
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

apt_dir="$tools/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/download"
cat > "$apt_dir/trixie.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: $keyring
SOURCES
opts=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$apt_dir/none"
  -o "Dir::Etc::sourceparts=$apt_dir/none"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Get::List-Cleanup=0"
)
mkdir -p "$apt_dir/none"
cp "$apt_dir/trixie.sources" "$apt_dir/none/trixie.sources"
apt-get "${opts[@]}" -q update >&2
(cd "$apt_dir/download" && apt-get "${opts[@]}" -q download victoria-metrics >&2)
deb=$(ls "$apt_dir"/download/victoria-metrics_*.deb | head -n 1)
rm -rf "$tools/victoria-metrics"
dpkg-deb -x "$deb" "$tools/victoria-metrics"
test -x "$bin"
echo "$bin"
