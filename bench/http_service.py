#!/usr/bin/env python3
"""The seed's design, for comparison: a small HTTP JSON embedding service (stdlib only).

    POST /embed  {"text": "..."}  ->  {"embedding": [384 floats], "dims": 384}
    GET  /health                  ->  {"ok": true}

One text per request, onnxruntime with --threads intra-op threads, the same pipeline as
songmatch (embedder.py).  Binds 127.0.0.1 on a free port, warms the model up, then writes
the port to --port-file (the sign it is ready) and serves until killed.
"""

from __future__ import annotations

import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

from embedder import Embedder

EMB: Embedder | None = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as any pooled client would use
    disable_nagle_algorithm = True  # TCP_NODELAY, as uvicorn & co. set: no 40 ms delayed-ACK stalls

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, code: int, obj) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self._send(200, {"ok": True})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/embed":
            self._send(404, {"error": "not found"})
            return
        try:
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            vec = EMB.embed([req["text"]])[0]
        except Exception as e:  # noqa: BLE001 - report to the client, keep serving
            self._send(400, {"error": str(e)})
            return
        self._send(200, {"embedding": vec.tolist(), "dims": int(vec.shape[0])})


def main() -> None:
    global EMB
    ap = argparse.ArgumentParser(description="HTTP JSON embedding service (one text per request)")
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    EMB = Embedder(args.model_dir, threads=args.threads)
    for _ in range(8):
        EMB.embed(["warm-up text for the service"])
    srv = HTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
