#!/usr/bin/env bash
# What a user pays to build benchscope, next to criterion and divan: a
# minimal crate with one benchmark, built clean (fresh target folder, fresh
# dependency resolution, sources already downloaded) for each contender, one
# after the other on this machine, in the bench profile (`cargo bench
# --no-run`, what `cargo bench` compiles) and the dev profile (`cargo build
# --benches`). Prints the crates compiled (the user's own crate left out)
# and the wall time; docs/PERFORMANCE.md keeps the table.
#
#   bash scripts/build-weight.sh            # every contender, about 10 minutes on 2 cores
#   bash scripts/build-weight.sh default    # only those whose name contains "default"
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
filter=${1:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/benchscope-build-weight.XXXXXX")
trap 'rm -rf "$work"' EXIT

# name | dependency line | bench body
contenders=(
  "benchscope (no default features)|benchscope = { path = \"$root/sdk\", default-features = false }|suite"
  "benchscope (default)|benchscope = { path = \"$root/sdk\" }|attribute"
  "benchscope (otlp-http, tls)|benchscope = { path = \"$root/sdk\", features = [\"otlp-http\", \"tls\"] }|attribute"
  "benchscope (all features)|benchscope = { path = \"$root/sdk\", features = [\"full\"] }|attribute"
  "criterion 0.8 (default)|criterion = \"0.8\"|criterion"
  "criterion 0.8 (no default features)|criterion = { version = \"0.8\", default-features = false }|criterion"
  "divan 0.1|divan = \"0.1\"|divan"
)

bench_source() {
  case "$1" in
    attribute) cat <<'EOF'
#[benchscope::monitored_bench]
fn parse() -> u64 {
    std::hint::black_box("18446744073709").parse().unwrap()
}

benchscope::main!();
EOF
      ;;
    suite) cat <<'EOF'
// Without the harness: the attribute and the runner, driven by hand.
#[benchscope::monitored_bench]
fn parse() -> u64 {
    std::hint::black_box("18446744073709").parse().unwrap()
}

fn main() -> Result<(), benchscope::Error> {
    let suite = benchscope::Suite::new(benchscope::Config::load()?);
    let run = suite.run(&benchscope::benchmarks()?, &mut benchscope::Silent)?;
    println!("{} benchmarks", run.benchmarks.len());
    Ok(())
}
EOF
      ;;
    criterion) cat <<'EOF'
use criterion::{Criterion, criterion_group, criterion_main};

fn parse(c: &mut Criterion) {
    c.bench_function("parse", |b| b.iter(|| std::hint::black_box("18446744073709").parse::<u64>().unwrap()));
}

criterion_group!(benches, parse);
criterion_main!(benches);
EOF
      ;;
    divan) cat <<'EOF'
#[divan::bench]
fn parse() -> u64 {
    std::hint::black_box("18446744073709").parse().unwrap()
}

fn main() {
    divan::main();
}
EOF
      ;;
  esac
}

printf '%-38s %8s %10s %8s %10s %s\n' "contender" "crates" "bench (s)" "crates" "dev (s)" "C compiled"
printf '%-38s %8s %10s %8s %10s %s\n' "" "(bench)" "" "(dev)" "" ""
for entry in "${contenders[@]}"; do
  IFS='|' read -r name dep body <<<"$entry"
  if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then continue; fi
  dir="$work/$(echo "$name" | tr -c 'a-z0-9' '_')"
  mkdir -p "$dir/src" "$dir/benches"
  cat > "$dir/Cargo.toml" <<EOF
[package]
name = "user-crate"
version = "0.1.0"
edition = "2024"
publish = false

[workspace]

[dev-dependencies]
$dep

[[bench]]
name = "one"
harness = false
EOF
  echo "// a user's library" > "$dir/src/lib.rs"
  bench_source "$body" > "$dir/benches/one.rs"
  (cd "$dir" && cargo fetch --quiet)
  results=()
  c_compiled=no
  for profile in bench dev; do
    rm -rf "$dir/target"
    log="$dir/build-$profile.log"
    start=$(date +%s.%N)
    if [ "$profile" = bench ]; then
      (cd "$dir" && cargo bench --no-run) > "$log" 2>&1
    else
      (cd "$dir" && cargo build --benches) > "$log" 2>&1
    fi
    end=$(date +%s.%N)
    crates=$(grep -c '^ *Compiling ' "$log" | tr -d ' ')
    crates=$((crates - 1)) # the user's own crate
    # The cc crate is only ever built to compile C for a build script.
    if grep -qE '^ *Compiling cc v' "$log"; then
      c_compiled=yes
    fi
    results+=("$crates" "$(printf '%.1f' "$(echo "$end - $start" | bc)")")
  done
  printf '%-38s %8s %10s %8s %10s %s\n' "$name" "${results[0]}" "${results[1]}" "${results[2]}" "${results[3]}" "$c_compiled"
done
echo
echo "$(nproc) cores, $(rustc --version), $(date -u +%Y-%m-%d)"
