#!/usr/bin/env bash
# Runs tests/python/sdk_conformance.py against an emulator started from the binary given as $1:
#   tests/python/run.sh target/debug/amlctl
# The binary is invoked as `$1 emulator serve --listen 127.0.0.1:0 --state F --fixture F
# --lro-ms 200 --page-size 1 --accepted-token T`; the port is read from its first stdout line
# (`listening on http://127.0.0.1:PORT`). EMULATOR_SUBCOMMAND overrides `emulator serve`
# (e.g. EMULATOR_SUBCOMMAND="" for crates/emulator's `serve` example binary).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:?usage: run.sh EMULATOR_BINARY}"
sub="${EMULATOR_SUBCOMMAND-emulator serve}"
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

cat > "$work/fixture.yaml" <<YAML
workspaces:
  - subscription_id: 00000000-0000-0000-0000-000000000000
    resource_group: my-rg
    name: my-ws
    location: eastus
resources: []
YAML
token="sdk-conformance-token"
mkfifo "$work/out"
# shellcheck disable=SC2086
"$bin" $sub --listen 127.0.0.1:0 --state "$work/state.json" --fixture "$work/fixture.yaml" \
  --lro-ms 200 --page-size 1 --accepted-token "$token" > "$work/out" 2> "$work/stderr" &
pid=$!
exec 3< "$work/out"
if ! read -r -t 60 first <&3; then
  echo "emulator did not start:" >&2; cat "$work/stderr" >&2; exit 1
fi
# Keep draining stdout so the emulator never blocks on a full pipe.
cat <&3 > /dev/null &
url="${first#listening on }"
case "$url" in http://127.0.0.1:*) ;; *) echo "unexpected first line: $first" >&2; exit 1 ;; esac
"$venv/bin/python" "$here/sdk_conformance.py" "$url" --token "$token"
