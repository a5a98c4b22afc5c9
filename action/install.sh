#!/usr/bin/env bash
# Installs amlctl for the composite Action (action.yml): the release binary for this runner,
# verified against its SHA-256 checksum file, or `cargo install` from the Action's own checkout
# when the Action is used at an unreleased ref (a branch or a commit).
#
# Environment: AMLCTL_VERSION (input `version`: "", "latest" or a tag such as v0.2.0; "" means
# the Action's own ref when that is a version tag, else build from source), AMLCTL_REPOSITORY
# (owner/name hosting the releases), GITHUB_ACTION_PATH, GITHUB_ACTION_REF, RUNNER_OS,
# RUNNER_ARCH, RUNNER_TEMP, GITHUB_PATH, GITHUB_SERVER_URL, GITHUB_TOKEN (optional, for the
# "latest" lookup).
set -euo pipefail

repo=${AMLCTL_REPOSITORY:-amlctl/amlctl}
server=${GITHUB_SERVER_URL:-https://github.com}
api=${GITHUB_API_URL:-https://api.github.com}
version=${AMLCTL_VERSION:-}
prefix="${RUNNER_TEMP:?}/amlctl"
dest="$prefix/bin"
mkdir -p "$dest"

from_source() {
  echo "amlctl: building from source ($1); a release tag as \`version\` installs in seconds"
  if [ -f "${GITHUB_ACTION_PATH:-}/crates/cli/Cargo.toml" ]; then
    cargo install --locked --root "$prefix" --path "$GITHUB_ACTION_PATH/crates/cli"
  else
    cargo install --locked --root "$prefix" --git "$server/$repo" amlctl-cli
  fi
  echo "$dest" >> "$GITHUB_PATH"
  "$dest/amlctl" --version
  exit 0
}

if [ -z "$version" ]; then
  case "${GITHUB_ACTION_REF:-}" in
    v[0-9]*) version=$GITHUB_ACTION_REF ;;
    *) from_source "the Action is used at ${GITHUB_ACTION_REF:-an unknown ref}, not a release tag" ;;
  esac
fi
if [ "$version" = latest ]; then
  auth=()
  if [ -n "${GITHUB_TOKEN:-}" ]; then auth=(--header "Authorization: Bearer $GITHUB_TOKEN"); fi
  version=$(curl --silent --show-error --fail --location --max-time 60 ${auth[@]+"${auth[@]}"} \
              "$api/repos/$repo/releases/latest" | jq --raw-output .tag_name)
fi
case "$version" in
  v*) ;;
  [0-9]*) version="v$version" ;;
  *) echo "::error::amlctl: version '$version' is not a release tag (vX.Y.Z), 'latest' or empty"; exit 1 ;;
esac

case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) target=x86_64-unknown-linux-musl; ext=tar.gz ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl; ext=tar.gz ;;
  macOS/X64) target=x86_64-apple-darwin; ext=tar.gz ;;
  macOS/ARM64) target=aarch64-apple-darwin; ext=tar.gz ;;
  Windows/X64) target=x86_64-pc-windows-msvc; ext=zip ;;
  *) from_source "no release binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}" ;;
esac

archive="amlctl-$version-$target.$ext"
url="$server/$repo/releases/download/$version/$archive"
work=$(mktemp -d)
echo "amlctl: downloading $url"
if ! curl --silent --show-error --fail --location --max-time 300 --retry 3 \
       --output "$work/$archive" "$url"; then
  from_source "no release asset $archive for $version"
fi
curl --silent --show-error --fail --location --max-time 60 --retry 3 \
  --output "$work/$archive.sha256" "$url.sha256"
want=$(awk '{print $1; exit}' "$work/$archive.sha256")
if command -v sha256sum > /dev/null 2>&1; then
  got=$(sha256sum "$work/$archive" | awk '{print $1}')
else
  got=$(shasum -a 256 "$work/$archive" | awk '{print $1}')
fi
if [ -z "$want" ] || [ "$want" != "$got" ]; then
  echo "::error::amlctl: checksum mismatch for $archive (expected ${want:-nothing}, got $got); not installing"
  exit 1
fi
echo "amlctl: checksum ok ($got)"
if [ "$ext" = zip ]; then
  pwsh -NoProfile -Command "Expand-Archive -Force -Path '$work/$archive' -DestinationPath '$work/x'"
else
  mkdir -p "$work/x"
  tar -xzf "$work/$archive" -C "$work/x"
fi
find "$work/x" -type f \( -name amlctl -o -name amlctl.exe \) -exec cp {} "$dest/" \;
bin="$dest/amlctl"
if [ "$ext" = zip ]; then bin="$dest/amlctl.exe"; fi
[ -f "$bin" ] || { echo "::error::amlctl: $archive holds no amlctl binary"; exit 1; }
chmod +x "$bin"
echo "$dest" >> "$GITHUB_PATH"
"$bin" --version
