#!/usr/bin/env bash
# Counts quoted in README.md and docs/ against what the repository and the binary produce now.
# Fails (exit 1) listing every quoted count that no longer matches, so a doc cannot keep a number
# the code stopped producing. Usage: .ci/check-claims.sh [path/to/amlctl] (default target/debug/amlctl).
set -euo pipefail
cd "$(dirname "$0")/.."
amlctl="${1:-target/debug/amlctl}"
[ -x "$amlctl" ] || { echo "check-claims: $amlctl is not built (cargo build --bin amlctl)" >&2; exit 2; }
fail=0

# claim FILE PERL-REGEX-WITH-ONE-CAPTURE ACTUAL WHAT: every match of the regex in FILE must capture
# ACTUAL; a regex that no longer matches is a failure too (the sentence moved: update this check).
claim() {
  local file=$1 re=$2 actual=$3 what=$4 found
  found=$(perl -0777 -ne 'while (/'"$re"'/g) { print "$1\n" }' "$file")
  if [ -z "$found" ]; then
    echo "check-claims: $file no longer quotes $what (pattern /$re/): update .ci/check-claims.sh" >&2
    fail=1
    return
  fi
  while read -r n; do
    if [ "$n" != "$actual" ]; then
      echo "check-claims: $file says $n for $what, but it is $actual now" >&2
      fail=1
    fi
  done <<<"$found"
}

# The example manifests: how many compute targets `amlctl validate` finds in manifests/.
computes=$("$amlctl" validate manifests 2>/dev/null | sed -n 's/^valid: \([0-9]*\) compute targets.*/\1/p')
[ -n "$computes" ] || { echo "check-claims: amlctl validate manifests printed no count" >&2; exit 1; }
claim docs/reliability.md 'example manifests \((\d+) computes' "$computes" "the example's computes"

# Compute types: one `oneOf` branch per manifest type in the generated manifest schema.
types=$(perl -MJSON::PP -0777 -ne 'print scalar(@{decode_json($_)->{oneOf}})' schemas/compute.schema.json)
claim docs/comparison.md 'all (\d+) manifest types' "$types" "the manifest types"

# Golden YAML files of the azure-ai-ml comparison.
golden=$(find crates/manifest/tests/golden/azureml-examples crates/manifest/tests/golden/edge-cases -name '*.yml' -o -name '*.yaml' | wc -l | tr -d ' ')
claim docs/compatibility.md '\((\d+) YAML files' "$golden" "the golden YAML files"

# The bad-input corpus of reliability_bad_input.rs.
bad_manifests=$(find tests/bad-manifests -maxdepth 1 \( -name '*.yml' -o -name '*.yaml' \) | wc -l | tr -d ' ')
bad_input=$(( $(find tests/bad-input/manifests -maxdepth 1 \( -name '*.yml' -o -name '*.yaml' \) | wc -l) + 2 ))
generated=$(grep -c '"generated:' tests/e2e/reliability_bad_input.rs)
claim docs/reliability.md '`tests\/bad-manifests\/` \((\d+)\)' "$bad_manifests" "the files of tests/bad-manifests"
claim docs/reliability.md 'the (\d+) cases of `tests\/bad-input\/`' "$bad_input" "the cases of tests/bad-input"
claim docs/reliability.md '\* (\d+) generated inputs' "$generated" "the generated bad inputs"
claim docs/reliability.md '(\d+) bad inputs through' "$(( bad_manifests + bad_input + generated ))" "the bad inputs"
claim docs/reliability.md 'All (\d+) inputs must be rejected' "$(( bad_manifests + bad_input + generated ))" "the bad inputs"

# Kill points of reliability_crash.rs: scenarios × points per scenario.
points=$(sed -n 's/^const POINTS_PER_SCENARIO: usize = \([0-9]*\);/\1/p' tests/e2e/reliability_crash.rs)
scenarios=$(sed -n 's/^const SCENARIOS: \[Scenario; \([0-9]*\)\] = \[/\1/p' tests/e2e/reliability_crash.rs)
claim docs/reliability.md 'SIGKILL of `apply` at (\d+) seeded points' "$(( points * scenarios ))" "the crash kill points"
claim docs/reliability.md '(\d+) distinct values of k are drawn' "$points" "the kill points per scenario"

# Tests per reliability file (the table's last column).
for f in tests/e2e/reliability_*.rs; do
  name=$(basename "$f")
  n=$(grep -c '^#\[test\]' "$f")
  claim docs/reliability.md '\| `'"${name//./\\.}"'` \|[^\n]*\| (\d+) \|\n' "$n" "the tests in $name"
done

if [ "$fail" -ne 0 ]; then
  echo "check-claims: the docs quote counts the code no longer produces (above)" >&2
  exit 1
fi
echo "check-claims: every checked count matches ($computes example computes, $types types, $golden golden YAML files, $bad_manifests + $bad_input + $generated bad inputs, $(( points * scenarios )) kill points)"
