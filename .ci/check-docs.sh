#!/usr/bin/env bash
# Keeps README.md and docs/*.md true to the binary (issue "The first hour"):
#   1. every `amlctl …` command line in a fenced code block or an inline code span names a
#      subcommand and flags that `amlctl SUBCOMMAND --help` lists (placeholders such as PATH,
#      FILE, `[…]` and `…` are fine; a flag that does not exist fails the check);
#   2. the README's "Try it" blocks are run as written, in a scratch copy of the repository,
#      with `cargo run --bin amlctl --` replaced by the built binary: plan, apply, and the
#      plan that must exit 0 (`--detailed-exitcode`).
# Usage: bash .ci/check-docs.sh [path/to/amlctl]   (default: target/debug/amlctl, built if absent)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/amlctl}
if [ ! -x "$bin" ]; then
  cargo build --bin amlctl
fi
bin=$(readlink -f "$bin")

python3 - "$bin" <<'PY'
import re, shlex, subprocess, sys, pathlib

amlctl = sys.argv[1]
files = [pathlib.Path("README.md")] + sorted(pathlib.Path("docs").glob("*.md"))
problems, checked = [], 0
help_cache = {}

def helptext(sub):
    if sub not in help_cache:
        args = [amlctl] + sub.split() + ["--help"]
        r = subprocess.run(args, capture_output=True, text=True)
        help_cache[sub] = (r.returncode, r.stdout + r.stderr)
    return help_cache[sub]

def commands(md):
    """(line number, command text) for every `amlctl …` in code blocks and inline code."""
    in_block = False
    for n, line in enumerate(md.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            for part in re.split(r"&&|\|\||;|\|(?![^\[]*\])", line):
                part = part.strip()
                part = re.sub(r"^(\$ |cargo run --bin amlctl --|cargo run -p amlctl-cli --)", "amlctl", part)
                if part.startswith("amlctl ") or part == "amlctl":
                    yield n, part
        else:
            for span in re.findall(r"`([^`]+)`", line):
                if span.startswith("amlctl "):
                    yield n, span

for f in files:
    text = f.read_text(encoding="utf-8")
    for n, cmd in commands(text):
        cmd = cmd.split("#", 1)[0]
        # Placeholders and alternatives are documentation, not arguments.
        cleaned = re.sub(r"\[[^\]]*\]", " ", cmd)
        cleaned = cleaned.replace("\\|", "|")
        try:
            tokens = shlex.split(cleaned)
        except ValueError:
            tokens = cleaned.split()
        args = tokens[1:]
        if args and args[0] in ("…", "..."):
            continue  # prose: "every `amlctl …` command"
        if not args or args[0].startswith("-"):
            sub = ""
        else:
            sub = args[0]
            if sub == "emulator" and len(args) > 1 and not args[1].startswith("-"):
                sub = "emulator " + args[1]
        code, help_ = helptext(sub)
        if code != 0:
            problems.append(f"{f}:{n}: `amlctl {sub}` is not a subcommand ({cmd.strip()})")
            continue
        # Flags anywhere in the original text (also inside [..] placeholders) must exist.
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", cmd):
            if not re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", help_):
                problems.append(f"{f}:{n}: `amlctl {sub}` has no flag {flag} ({cmd.strip()})")
        checked += 1

for p in problems:
    print(f"check-docs: {p}")
print(f"check-docs: {checked} amlctl command lines in README.md and docs/*.md checked against --help")
sys.exit(1 if problems else 0)
PY

# 2. The README's sandbox walk-through, as written, in a scratch copy.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -z manifests README.md | xargs -0 -I{} cp --parents {} "$scratch/"
python3 - "$scratch/README.md" "$scratch/try.sh" "$bin" <<'PY'
import re, sys
readme, out, binary = sys.argv[1:]
text = open(readme, encoding="utf-8").read()
section = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
if len(blocks) < 2:
    sys.exit("check-docs: the README's Try it section lost its command blocks")
body = "\n".join(blocks).replace("cargo run --bin amlctl --", binary)
with open(out, "w", encoding="utf-8") as f:
    f.write("set -euo pipefail\n" + body)
PY
(cd "$scratch" && AMLCTL_ARM_ENDPOINT= bash try.sh > try.log 2>&1) || {
  echo "check-docs: the README's Try it commands failed:"
  cat "$scratch/try.log"
  exit 1
}
echo "check-docs: the README's Try it commands ran as written (last plan: no changes)"
