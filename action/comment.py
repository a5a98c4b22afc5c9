#!/usr/bin/env python3
"""Posts `amlctl plan --format markdown` output as a pull-request comment, updated in place.

Used by the composite Action (action.yml); python3 standard library only.

amlctl already splits a plan longer than GitHub's 65,536-character comment limit into chunks
separated by `<!-- amlctl: next chunk -->` (crates/plan/src/render.rs). This script posts those
chunks exactly as amlctl made them: one comment per chunk, each starting with a hidden marker

    <!-- amlctl-plan key=KEY part=N -->

so that a later run finds its comments again and edits them in place (part 1 stays the same
comment across pushes), creates missing parts and deletes surplus ones. Only comments written by
`--author` (default: the Actions bot) are touched, so a marker pasted by someone else is ignored.

Environment: GITHUB_TOKEN (required, never printed), GITHUB_REPOSITORY (owner/name),
GITHUB_API_URL (default https://api.github.com), GITHUB_EVENT_PATH (for the pull-request number
when --pr is not given), GITHUB_OUTPUT (optional: `comment-url=` is appended).
Exit 0 on success, 1 on any error (with a message saying what to do).
"""

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SEPARATOR = "<!-- amlctl: next chunk -->"
LIMIT = 65536  # GitHub refuses comment bodies of this many characters or more
MARKER_RE = re.compile(r"^<!-- amlctl-plan key=([A-Za-z0-9._/-]+) part=([0-9]+) -->")
TIMEOUT = 30
MAX_PAGES = 50


class Failure(Exception):
    """An error to report and exit 1 with."""


def marker(key, part):
    return f"<!-- amlctl-plan key={key} part={part} -->"


def chunks_of(text):
    """The chunks amlctl made, without the blank lines around each separator."""
    parts = [p.strip("\n") for p in text.split(SEPARATOR)]
    parts = [p for p in parts if p.strip()]
    if not parts:
        raise Failure("the plan file is empty: pass the stdout of `amlctl plan --format markdown`")
    return parts


class GitHub:
    def __init__(self, api, token, repo):
        self.api = api.rstrip("/")
        self.token = token
        self.repo = repo

    def call(self, method, path, body=None):
        url = f"{self.api}/repos/{self.repo}/{path}"
        data = None if body is None else json.dumps(body).encode("utf-8")
        for attempt in range(3):
            req = urllib.request.Request(url, data=data, method=method)
            req.add_header("Authorization", f"Bearer {self.token}")
            req.add_header("Accept", "application/vnd.github+json")
            req.add_header("X-GitHub-Api-Version", "2022-11-28")
            req.add_header("User-Agent", "amlctl-action")
            if data is not None:
                req.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                    raw = resp.read()
                    return json.loads(raw) if raw else None
            except urllib.error.HTTPError as e:
                if e.code in (502, 503, 504) and attempt < 2:
                    time.sleep(1 + attempt)
                    continue
                message = ""
                try:
                    message = json.loads(e.read() or b"{}").get("message", "")
                except (ValueError, AttributeError):
                    pass
                hint = ""
                if e.code in (401, 403, 404):
                    hint = (" (the workflow needs `permissions: pull-requests: write`, and the "
                            "token must belong to this repository)")
                raise Failure(f"GitHub API {method} {path}: HTTP {e.code} {message}{hint}") from None
            except (urllib.error.URLError, TimeoutError, OSError) as e:
                if attempt < 2:
                    time.sleep(1 + attempt)
                    continue
                reason = getattr(e, "reason", e)
                raise Failure(f"GitHub API {method} {path}: cannot connect ({reason})") from None
            except ValueError:
                raise Failure(f"GitHub API {method} {path}: the answer is not JSON") from None
        raise Failure(f"GitHub API {method} {path}: no answer")

    def comments(self, pr):
        out = []
        for page in range(1, MAX_PAGES + 1):
            batch = self.call("GET", f"issues/{pr}/comments?per_page=100&page={page}")
            if not isinstance(batch, list):
                raise Failure("GitHub API: listing comments did not return a list")
            out.extend(batch)
            if len(batch) < 100:
                break
        return out


def pr_number(args):
    if args.pr:
        return args.pr
    path = os.environ.get("GITHUB_EVENT_PATH")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                event = json.load(f)
            number = (event.get("pull_request") or {}).get("number")
            if isinstance(number, int):
                return number
        except (OSError, ValueError) as e:
            raise Failure(f"cannot read the event payload {path}: {e}") from None
    raise Failure("no pull request: run on a pull_request event or pass --pr NUMBER")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--plan", required=True, help="markdown file written by `amlctl plan --format markdown`")
    p.add_argument("--pr", type=int, help="pull-request number (default: from GITHUB_EVENT_PATH)")
    p.add_argument("--key", default="default",
                   help="tells apart the plans of several Action steps in one pull request")
    p.add_argument("--author", default="github-actions[bot]",
                   help="login whose comments are ours (the token's user)")
    args = p.parse_args()

    if not re.fullmatch(r"[A-Za-z0-9._/-]+", args.key):
        raise Failure(f"--key {args.key!r}: use letters, digits and . _ / - only")
    token = os.environ.get("GITHUB_TOKEN", "")
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    if not token:
        raise Failure("GITHUB_TOKEN is not set: pass the Action input `github-token`")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
        raise Failure("GITHUB_REPOSITORY must be OWNER/NAME")
    api = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    try:
        with open(args.plan, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise Failure(f"cannot read the plan {args.plan}: {e}") from None

    chunks = chunks_of(text)
    bodies = []
    for i, chunk in enumerate(chunks, start=1):
        body = f"{marker(args.key, i)}\n{chunk}"
        if len(body) >= LIMIT:
            raise Failure(f"{args.plan}: part {i} has {len(body)} characters, over GitHub's limit of "
                          f"{LIMIT}: pass the output of `amlctl plan --format markdown` unchanged")
        bodies.append(body)

    gh = GitHub(api, token, repo)
    pr = pr_number(args)
    ours = {}
    for c in gh.comments(pr):
        m = MARKER_RE.match(c.get("body") or "")
        user = (c.get("user") or {}).get("login")
        if m and m.group(1) == args.key and user == args.author:
            part = int(m.group(2))
            # Duplicates (a run that failed half-way) are surplus: keep the oldest.
            if part in ours:
                ours.setdefault(-c["id"], c)
            else:
                ours[part] = c

    first_url = None
    for i, body in enumerate(bodies, start=1):
        old = ours.pop(i, None)
        if old is None:
            c = gh.call("POST", f"issues/{pr}/comments", {"body": body})
            print(f"created comment {c.get('id')} (part {i} of {len(bodies)})")
        elif old.get("body") != body:
            c = gh.call("PATCH", f"issues/comments/{old['id']}", {"body": body})
            print(f"updated comment {old['id']} (part {i} of {len(bodies)})")
        else:
            c = old
            print(f"comment {old['id']} is up to date (part {i} of {len(bodies)})")
        if i == 1:
            first_url = (c or {}).get("html_url")
    for c in ours.values():
        gh.call("DELETE", f"issues/comments/{c['id']}")
        print(f"deleted comment {c['id']} (no longer part of the plan)")

    out = os.environ.get("GITHUB_OUTPUT")
    if out and first_url:
        with open(out, "a", encoding="utf-8") as f:
            f.write(f"comment-url={first_url}\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"amlctl comment: error: {e}", file=sys.stderr)
        sys.exit(1)
