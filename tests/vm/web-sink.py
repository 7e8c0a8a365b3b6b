#!/usr/bin/env python3
"""A web sink and file server for the VM tests. Listens on 127.0.0.1 only.

usage: web-sink.py PORTFILE RECORDFILE [SERVEDIR]

Every request is appended to RECORDFILE as one line, `METHOD PATH BODY`. Without SERVEDIR
every request is answered 200 `ok` (phone_home's sink). With SERVEDIR, GET and HEAD serve the
files under it (a Debian repository for apt) and answer 404 for anything else, as apt needs
to tell a missing index from a present one; other methods still get 200 `ok`."""
import http.server
import os
import posixpath
import sys
import urllib.parse

portfile, record = sys.argv[1], sys.argv[2]
serve_dir = os.path.realpath(sys.argv[3]) if len(sys.argv) > 3 else None


def note(line):
    with open(record, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def served_file(url_path):
    """The file under serve_dir that url_path names, or None (never a path outside it)."""
    path = posixpath.normpath(urllib.parse.unquote(urllib.parse.urlsplit(url_path).path))
    full = os.path.realpath(os.path.join(serve_dir, path.lstrip("/")))
    if os.path.commonpath([full, serve_dir]) != serve_dir or not os.path.isfile(full):
        return None
    return full


class Sink(http.server.BaseHTTPRequestHandler):
    def _reply(self, code, body, head_only=False):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def _sink(self):
        n = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
        body = self.rfile.read(n).decode("utf-8", "replace")
        note(f"{self.command} {self.path} {body}")
        self._reply(200, b"ok")

    def _serve(self):
        if serve_dir is None:
            self._sink()
            return
        full = served_file(self.path)
        note(f"{self.command} {self.path} {200 if full else 404}")
        if full is None:
            self._reply(404, b"not found\n", self.command == "HEAD")
            return
        with open(full, "rb") as f:
            self._reply(200, f.read(), self.command == "HEAD")

    do_GET = do_HEAD = _serve
    do_POST = do_PUT = _sink

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
with open(portfile, "w", encoding="utf-8") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
