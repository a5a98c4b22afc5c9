#!/usr/bin/env python3
"""A stub of the GitHub REST API's issue comments, on 127.0.0.1, for tests/action/run.sh.

Serves GET/POST /repos/OWNER/NAME/issues/N/comments (paged by per_page/page) and
PATCH/DELETE /repos/OWNER/NAME/issues/comments/ID, requires `Authorization: Bearer TOKEN`,
refuses bodies of 65,536 characters or more with 422 like GitHub, and answers GET /__state with
every comment (for the test's assertions). Comments are made as the user `--login`.
Writes its port to --port-file and exits by itself after --lifetime seconds.
"""

import argparse
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LIMIT = 65536


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--login", default="github-actions[bot]")
    p.add_argument("--seed", help="JSON list of comments to start with")
    p.add_argument("--lifetime", type=float, default=120)
    args = p.parse_args()

    lock = threading.Lock()
    state = {"next_id": 1000, "comments": [], "requests": []}
    if args.seed:
        with open(args.seed, encoding="utf-8") as f:
            for c in json.load(f):
                state["next_id"] += 1
                state["comments"].append({"id": state["next_id"], "issue": c["issue"],
                                          "body": c["body"], "user": c["user"]})

    def view(c):
        return {"id": c["id"], "body": c["body"],
                "user": {"login": c["user"], "type": "Bot" if c["user"].endswith("[bot]") else "User"},
                "html_url": f"https://github.invalid/pr/{c['issue']}#issuecomment-{c['id']}"}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, code, obj=None):
            data = b"" if obj is None else json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n) or b"{}")

        def handle_any(self, method):
            url = urlparse(self.path)
            with lock:
                state["requests"].append(f"{method} {url.path}")
                if url.path == "/__state":
                    return self.reply(200, {"comments": [view(c) | {"issue": c["issue"]} for c in state["comments"]],
                                            "requests": state["requests"]})
                if self.headers.get("Authorization") != f"Bearer {args.token}":
                    return self.reply(401, {"message": "Bad credentials"})
                m = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)/comments", url.path)
                if m and method in ("GET", "POST"):
                    issue = int(m.group(1))
                    if method == "GET":
                        q = parse_qs(url.query)
                        per = min(int(q.get("per_page", ["30"])[0]), 100)
                        page = int(q.get("page", ["1"])[0])
                        mine = [view(c) for c in state["comments"] if c["issue"] == issue]
                        return self.reply(200, mine[(page - 1) * per: page * per])
                    body = self.body().get("body", "")
                    if len(body) >= LIMIT:
                        return self.reply(422, {"message": "Body is too long (maximum is 65536 characters)"})
                    state["next_id"] += 1
                    c = {"id": state["next_id"], "issue": issue, "body": body, "user": args.login}
                    state["comments"].append(c)
                    return self.reply(201, view(c))
                m = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/comments/(\d+)", url.path)
                if m and method in ("PATCH", "DELETE"):
                    cid = int(m.group(1))
                    found = [c for c in state["comments"] if c["id"] == cid]
                    if not found:
                        return self.reply(404, {"message": "Not Found"})
                    c = found[0]
                    if c["user"] != args.login:
                        return self.reply(403, {"message": "Must have admin rights to Repository."})
                    if method == "DELETE":
                        state["comments"].remove(c)
                        return self.reply(204)
                    body = self.body().get("body", "")
                    if len(body) >= LIMIT:
                        return self.reply(422, {"message": "Body is too long (maximum is 65536 characters)"})
                    c["body"] = body
                    return self.reply(200, view(c))
                return self.reply(404, {"message": "Not Found"})

        def do_GET(self):
            self.handle_any("GET")

        def do_POST(self):
            self.handle_any("POST")

        def do_PATCH(self):
            self.handle_any("PATCH")

        def do_DELETE(self):
            self.handle_any("DELETE")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(args.port_file + ".tmp", args.port_file)
    threading.Timer(args.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
