#!/usr/bin/env bash
# Adoption end to end: a workspace populated by the Python SDK (outside amlctl), then
# `amlctl export`, then `amlctl plan --detailed-exitcode` must exit 0 (no changes), then
# `amlctl import` tags one compute and the plan stays clean.
#   tests/python/export_e2e.sh target/debug/amlctl
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(cd "$(dirname "${1:?usage: export_e2e.sh AMLCTL_BINARY}")" && pwd)/$(basename "$1")"
venv="$root/tests/.venv-sdk"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
sub=00000000-0000-0000-0000-000000000000
cat > "$work/fixture.yaml" <<YAML
workspaces:
  - subscription_id: $sub
    resource_group: my-rg
    name: my-ws
    location: eastus
resources:
  - /subscriptions/$sub/resourceGroups/my-rg/providers/Microsoft.Compute/virtualMachines/legacy-vm
  - /subscriptions/$sub/resourceGroups/my-rg/providers/Microsoft.DataLakeAnalytics/accounts/legacyadla
YAML
token="export-e2e-token"
mkfifo "$work/out"
"$bin" emulator serve --listen 127.0.0.1:0 --state "$work/state.json" --fixture "$work/fixture.yaml" \
  --lro-ms 100 --quirks all --accepted-token "$token" --identity-header export-e2e > "$work/out" 2> "$work/stderr" &
pid=$!
exec 3< "$work/out"
if ! read -r -t 60 first <&3; then
  echo "emulator did not start:" >&2; cat "$work/stderr" >&2; exit 1
fi
cat <&3 > /dev/null &
url="${first#listening on }"

"$venv/bin/python" "$here/populate.py" "$url" --token "$token"

repo="$work/repo"
mkdir -p "$repo/computes"
cat > "$repo/amlctl.yaml" <<YAML
workspaces:
  ext:
    subscription_id: $sub
    resource_group: my-rg
    workspace: my-ws
default_workspace: ext
manifests: [computes]
YAML
export AMLCTL_ARM_ENDPOINT="$url" AMLCTL_AUTH=managed-identity IDENTITY_ENDPOINT="$url/msi/token" \
  IDENTITY_HEADER=export-e2e AMLCTL_POLL_INTERVAL_MS=20 NO_COLOR=1

"$bin" export --path "$repo" --workspace ext
ls "$repo/computes"
count=$(ls "$repo/computes" | wc -l)
[ "$count" -eq 4 ] || { echo "expected 4 exported manifests, got $count" >&2; exit 1; }
"$bin" validate "$repo"
set +e
"$bin" plan "$repo" --detailed-exitcode
code=$?
set -e
[ "$code" -eq 0 ] || { echo "plan after export exited $code (expected 0: no changes)" >&2; exit 1; }
echo "ok   export then plan: no changes"

# A second export skips (and lists) what the repository now declares: no "declared twice".
"$bin" export "$repo" --workspace ext 2> "$work/export2.err"
grep -q "already declares" "$work/export2.err"
echo "ok   a second export skips the declared computes"

# With --include-declared it refuses to overwrite without --force.
if "$bin" export "$repo" --workspace ext --include-declared 2> "$work/export3.err"; then
  echo "export --include-declared should refuse to overwrite" >&2; exit 1
fi
grep -q -- "--force" "$work/export3.err"
echo "ok   export does not overwrite without --force"

"$bin" import legacy-cluster --path "$repo"
"$bin" import legacy-cluster --path "$repo" | grep -q "already managed"
"$bin" plan "$repo" --detailed-exitcode
echo "ok   import tags the compute; plan still clean"
echo "export e2e: all checks passed"
