#!/usr/bin/env bash
# Mutation testing of the pure decision code with cargo-mutants (not part of the default .ci/run:
# a file takes minutes to tens of minutes on 2 cores). File-scoped, one file at a time:
#
#   .ci/mutants.sh                                  # the default files below
#   .ci/mutants.sh crates/plan/src/policy.rs        # one file
#   MUTANTS_JOBS=2 MUTANTS_TIMEOUT=300 .ci/mutants.sh crates/manifest/src/validate.rs
#
# Needs `cargo install --locked cargo-mutants`. cargo-mutants copies the sources (not target/) to a
# scratch directory and builds there; CARGO_TARGET_DIR points that build at target/mutants-build in
# this repository, so no target directory is copied and repeated runs build incrementally.
# Results: target/mutants-out/<file>/mutants.out/{caught,missed,unviable,timeout}.txt; a summary
# line per file is printed at the end. docs/testing.md records the last measured counts.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-mutants >/dev/null || {
  echo "cargo-mutants is not installed: cargo install --locked cargo-mutants" >&2
  exit 2
}
jobs="${MUTANTS_JOBS:-1}"
timeout="${MUTANTS_TIMEOUT:-180}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/mutants-build}"
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(
    crates/plan/src/policy.rs
    crates/plan/src/normalize.rs
    crates/plan/src/planner.rs
    crates/manifest/src/validate.rs
    crates/manifest/src/fields.rs
    crates/manifest/src/arm.rs
  )
fi
status=0
summary=()
for f in "${files[@]}"; do
  case "$f" in
    crates/plan/*) pkg=amlctl-plan ;;
    crates/manifest/*) pkg=amlctl-manifest ;;
    crates/apply/*) pkg=amlctl-apply ;;
    *) echo "no package for $f" >&2; exit 2 ;;
  esac
  out="target/mutants-out/$(echo "$f" | tr '/' '_')"
  mkdir -p "$out"
  echo "=== cargo mutants -p $pkg -f $f -j $jobs --timeout $timeout"
  cargo mutants -p "$pkg" -f "$f" -j "$jobs" --timeout "$timeout" --output "$out" || status=1
  d="$out/mutants.out"
  count() { if [ -s "$d/$1.txt" ]; then grep -c . "$d/$1.txt"; else echo 0; fi; }
  summary+=("$f: caught $(count caught), missed $(count missed), unviable $(count unviable), timeout $(count timeout)")
done
printf '\n%s\n' "${summary[@]}"
# cargo-mutants exits non-zero when a mutant survives: that is the point of the run.
exit $status
