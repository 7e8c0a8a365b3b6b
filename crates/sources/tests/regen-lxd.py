#!/usr/bin/env python3
"""Regenerate tests/fixtures/lxd-oracle.json: upstream's DataSourceLXD reads
a devlxd stand-in on a unix socket in a temp dir that answers the routes in
tests/fixtures/lxd-routes.json (the same table tests/lxd.rs serves). The
fallback NIC is stubbed to eth0 (the test root's only connected NIC).

Run from the repo root with the oracle's Python:
  /var/tmp/cloud-init-oracle/venv/bin/python crates/sources/tests/regen-lxd.py
"""
import http.server
import json
import os
import socketserver
import tempfile
import threading

from cloudinit import helpers
from cloudinit.sources import DataSourceLXD as dslxd

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTES = os.path.join(HERE, "fixtures", "lxd-routes.json")
OUT = os.path.join(HERE, "fixtures", "lxd-oracle.json")


def main():
    with open(ROUTES) as f:
        routes = json.load(f)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code, body = routes.get(self.path, [404, '{"error": "not found"}'])
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def address_string(self):
            return "lxd"

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    tmp = tempfile.mkdtemp()
    sock = os.path.join(tmp, "sock")
    server = Server(sock, Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dslxd.LXD_SOCKET_PATH = sock
        dslxd.find_fallback_nic = lambda: "eth0"
        paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
        ds = dslxd.DataSourceLXD({}, None, paths)
        assert ds._get_data()
        out = {
            "metadata": ds.metadata,
            "crawled": ds._crawled_metadata,
            "userdata": ds.userdata_raw,
            "vendordata": ds.vendordata_raw,
            "network_config": ds.network_config,
            "instance_id": ds.get_instance_id(),
            "hostname": ds.get_hostname().hostname,
            "platform_type": ds.platform_type,
            # The socket path was patched; upstream names the real one.
            "subplatform": ds.subplatform.replace(sock, "/dev/lxd/sock"),
            "cloud_name": ds.cloud_name,
        }
    finally:
        server.shutdown()
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
