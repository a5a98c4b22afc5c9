#!/usr/bin/env bash
# Tests the Action's pull-request comment script (action/comment.py) against a stub of the GitHub
# REST API on 127.0.0.1 (tests/action/github_stub.py), with plans made by the real binary:
#   1. a small plan: one comment is created, with the hidden marker;
#   2. a plan over 65,536 characters: the same comment is updated, and exactly the chunks
#      `amlctl plan --format markdown` produced become the parts (each under the limit);
#   3. the small plan again: part 1 is still the same comment, the surplus parts are deleted;
#   4. comments by other users carrying the marker, and unrelated comments, are never touched;
#      more than 100 comments (paging) are read;
#   5. a bad token fails with exit 1 and the token is never printed.
# Usage: tests/action/run.sh path/to/amlctl. Bounded in time (the stub exits after 120 s).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
amlctl=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d)
stub_pid=""
cleanup() {
  if [ -n "$stub_pid" ]; then kill "$stub_pid" 2> /dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Two projects planned against the sandbox: 1 compute (small) and 400 (over the limit).
make_project() {
  local dir=$1 n=$2 i
  mkdir -p "$dir/m"
  cat > "$dir/amlctl.yaml" <<'YAML'
workspaces:
  dev:
    subscription_id: 00000000-0000-0000-0000-000000000000
    resource_group: rg-ml
    workspace: mlw-dev
    location: eastus
default_workspace: dev
manifests: [m]
YAML
  for i in $(seq 1 "$n"); do
    sed -e "s/^name: cpu-cluster/name: cluster-$(printf 'c%03dx' "$i")/" -e '/schema=/d' \
      "$root/manifests/cpu-cluster.yml" > "$dir/m/c$i.yml"
  done
  (cd "$dir" && "$amlctl" plan . --sandbox --format markdown > plan.md 2> plan.err) \
    || { cat "$dir/plan.err"; echo "FAIL: amlctl plan in $dir"; exit 1; }
}
make_project "$tmp/small" 1
make_project "$tmp/big" 400

seed="$tmp/seed.json"
python3 - "$seed" <<'PY'
import json, sys
seed = [{"issue": 7, "user": "octocat", "body": f"filler comment {i}"} for i in range(120)]
seed.append({"issue": 7, "user": "mallory", "body": "<!-- amlctl-plan key=default part=1 -->\nfake"})
seed.append({"issue": 7, "user": "github-actions[bot]", "body": "some other bot comment"})
seed.append({"issue": 8, "user": "github-actions[bot]", "body": "<!-- amlctl-plan key=default part=1 -->\nother PR"})
json.dump(seed, open(sys.argv[1], "w"))
PY

token="ghs-stub-token-$RANDOM$RANDOM"
python3 "$here/github_stub.py" --port-file "$tmp/port" --token "$token" --seed "$seed" --lifetime 120 &
stub_pid=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { echo "FAIL: the stub did not start"; exit 1; }
api="http://127.0.0.1:$(cat "$tmp/port")"

post() {
  GITHUB_TOKEN=$2 GITHUB_REPOSITORY=acme/infra GITHUB_API_URL=$api GITHUB_OUTPUT=$tmp/out \
    timeout 60 python3 "$root/action/comment.py" --plan "$1" --pr 7
}

check() {
  curl --silent --show-error --max-time 10 "$api/__state" > "$tmp/state.json"
  python3 - "$tmp/state.json" "$@" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
step, plan_file = sys.argv[2], sys.argv[3]
first_id = int(sys.argv[4]) if len(sys.argv) > 4 else None
SEP = "<!-- amlctl: next chunk -->"
chunks = [c.strip("\n") for c in open(plan_file, encoding="utf-8").read().split(SEP)]
ours = [c for c in state["comments"] if c["issue"] == 7 and c["user"]["login"] == "github-actions[bot]"
        and c["body"].startswith("<!-- amlctl-plan ")]
fail = []
if len(ours) != len(chunks):
    fail.append(f"{len(ours)} plan comments, want {len(chunks)} (the chunks amlctl produced)")
for i, (c, chunk) in enumerate(zip(ours, chunks), start=1):
    want = f"<!-- amlctl-plan key=default part={i} -->\n{chunk}"
    if c["body"] != want:
        fail.append(f"part {i}: body differs from amlctl's chunk {i}")
    if len(c["body"]) >= 65536:
        fail.append(f"part {i}: {len(c['body'])} characters")
if first_id is not None and ours and ours[0]["id"] != first_id:
    fail.append(f"part 1 is comment {ours[0]['id']}, want the same comment {first_id} updated in place")
bodies = {c["body"] for c in state["comments"]}
for keep in ("<!-- amlctl-plan key=default part=1 -->\nfake", "some other bot comment",
             "<!-- amlctl-plan key=default part=1 -->\nother PR", "filler comment 119"):
    if keep not in bodies:
        fail.append(f"a comment that is not ours was changed or deleted: {keep!r}")
if fail:
    print(f"FAIL ({step}): " + "; ".join(fail))
    sys.exit(1)
print(f"ok ({step}): {len(ours)} comment(s), ids {[c['id'] for c in ours]}")
if ours:
    open(sys.argv[1] + ".first", "w").write(str(ours[0]["id"]))
PY
}

n_big=$(grep -c 'amlctl: next chunk' "$tmp/big/plan.md" || true)
[ "$(wc -c < "$tmp/big/plan.md")" -gt 65536 ] && [ "$n_big" -ge 2 ] \
  || { echo "FAIL: the big plan should exceed 65,536 characters in 3+ chunks"; exit 1; }

post "$tmp/small/plan.md" "$token"
check "first run creates the comment" "$tmp/small/plan.md"
first=$(cat "$tmp/state.json.first")

post "$tmp/big/plan.md" "$token"
check "second run, plan over 65,536 characters: updated in place, split like amlctl" "$tmp/big/plan.md" "$first"

post "$tmp/small/plan.md" "$token"
check "third run: same comment, surplus parts deleted" "$tmp/small/plan.md" "$first"

set +e
post "$tmp/small/plan.md" "wrong-token-value" > "$tmp/bad.out" 2>&1
code=$?
set -e
if [ "$code" != 1 ] || ! grep -q 'HTTP 401' "$tmp/bad.out" || grep -q 'wrong-token-value\|ghs-stub-token' "$tmp/bad.out"; then
  echo "FAIL: a bad token must exit 1 with HTTP 401 and without the token (exit $code):"
  cat "$tmp/bad.out"
  exit 1
fi
echo "ok (bad token: exit 1, token not printed)"
echo "action comment script: ok"
