#!/usr/bin/env python3
"""A web sink for the VM tests: answers every request with 200 and appends
`METHOD PATH BODY` as one line to a file. Listens on 127.0.0.1 only.
usage: web-sink.py PORTFILE RECORDFILE"""
import http.server
import sys

portfile, record = sys.argv[1], sys.argv[2]


class Sink(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        n = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
        body = self.rfile.read(n).decode("utf-8", "replace")
        with open(record, "a", encoding="utf-8") as f:
            f.write(f"{self.command} {self.path} {body}\n")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Sink)
with open(portfile, "w", encoding="utf-8") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
