#!/usr/bin/env bash
# Runs the `amlctl-validate` hook of .pre-commit-hooks.yaml with `pre-commit try-repo` on a sample
# repository made in a temp dir: passes on valid manifests, fails on a broken one (naming
# file:line:col). pre-commit comes from PyPI into a venv under target/ (no other network).
# Usage: tests/action/pre-commit.sh path/to/amlctl
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin_dir=$(cd "$(dirname "$1")" && pwd)
venv="$root/target/ci-venv-pre-commit"
if [ ! -x "$venv/bin/pre-commit" ]; then
  python3 -m venv "$venv"
  timeout 300 "$venv/bin/pip" install --quiet --disable-pip-version-check "pre-commit==4.0.1"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PATH="$bin_dir:$PATH" PRE_COMMIT_HOME="$tmp/cache" GIT_CONFIG_GLOBAL=/dev/null
# try-repo uses the working tree of the hook repository, uncommitted changes included.
cd "$tmp" && mkdir sample && cd sample && git init -q
cp -r "$root/manifests/." .
rm -rf .amlctl
git add -A
"$venv/bin/pre-commit" try-repo "$root" amlctl-validate --all-files > ../ok.log 2>&1 \
  || { cat ../ok.log; echo "FAIL: the hook failed on valid manifests"; exit 1; }
printf 'name: cpu-cluster\ntype: amlcompute\nmax_instances: [oops\n' > cpu-cluster.yml
git add -A
if "$venv/bin/pre-commit" try-repo "$root" amlctl-validate --all-files > ../bad.log 2>&1; then
  cat ../bad.log; echo "FAIL: the hook passed a broken manifest"; exit 1
fi
grep -q 'cpu-cluster.yml:[0-9]*:[0-9]*' ../bad.log \
  || { cat ../bad.log; echo "FAIL: no file:line:col for the broken manifest"; exit 1; }
echo "pre-commit hook amlctl-validate: ok (passes valid manifests, fails a broken one)"
