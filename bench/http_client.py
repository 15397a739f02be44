#!/usr/bin/env python3
"""Client of http_service.py, as the seed's client works: one POST per song, sequentially,
JSON parsed into a vector.  Keeps one keep-alive connection (the HTTP design's best case).
Waits for the service's port file, warms up, then times --runs passes over all texts.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time
from pathlib import Path


def wait_port(port_file: Path, timeout: float, pid: int | None) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_file.exists():
            return int(port_file.read_text().strip())
        if pid is not None and not Path(f"/proc/{pid}").exists():
            raise SystemExit("http_client: the HTTP service exited before it was ready")
        time.sleep(0.1)
    raise SystemExit(f"http_client: the HTTP service was not ready after {timeout:.0f}s")


def main() -> None:
    ap = argparse.ArgumentParser(description="sequential HTTP embedding client, texts/s")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--server-pid", type=int)
    ap.add_argument("--texts", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ready-timeout", type=float, default=60)
    args = ap.parse_args()

    texts = [l.rstrip("\n") for l in open(args.texts, encoding="utf-8") if l.strip()]
    port = wait_port(Path(args.port_file), args.ready_timeout, args.server_pid)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(method: str, path: str, obj=None):
        body = None if obj is None else json.dumps(obj).encode()
        headers = {"Content-Type": "application/json"} if body else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = json.loads(resp.read())
        if resp.status != 200:
            raise SystemExit(f"http_client: {method} {path} -> {resp.status} {data}")
        return data

    call("GET", "/health")
    for t in texts[:32]:  # warm-up
        call("POST", "/embed", {"text": t})
    runs = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        for t in texts:
            data = call("POST", "/embed", {"text": t})
            vec = data["embedding"]
            if len(vec) != data["dims"]:
                raise SystemExit(f"http_client: got {len(vec)} floats, expected {data['dims']}")
        runs.append(time.perf_counter() - t0)
    conn.close()
    n = len(texts)
    print(json.dumps({
        "http_texts_per_s": round(n / min(runs), 1),
        "http_texts_per_s_median": round(n / statistics.median(runs), 1),
        "http_runs_s": [round(x, 4) for x in runs],
        "n_texts": n,
    }))


if __name__ == "__main__":
    main()
