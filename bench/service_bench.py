#!/usr/bin/env python3
"""The inference service (one server-wide process holding each model, issue 12) against
in-backend inference (each backend loads its own ONNX Runtime session), through psycopg.
Prints one JSON line.

The mode is chosen per connection with `options='-c songmatch.inference=service|backend'`.

  {mode}_first_call_ms      `select songmatch.embed(...)` as the first statement of a fresh
                            connection (connect first, time only the statement); median of --fresh.
                            The service has the model loaded already (an earlier call).
  {mode}_pss_mb_16          --clients connections each run one embed and stay open; then the sum
                            of PSS (/proc/<pid>/smaps_rollup) over all server processes: the
                            postmaster and everything below it (backends, auxiliary processes,
                            the supervisor background worker and its child, the service)
  {mode}_texts_per_s_16     --clients threads, one connection each, single-text
                            `select songmatch.embed(%s)` calls over the bench texts (--total calls
                            in all, texts cycled); texts/s overall, p50 / p99 latency at the client
  ort_batch_texts_per_s     bench/ort_bench.py (raw Python onnxruntime, batch --batch) on the same
                            texts and model with the service's intra-op thread count
  large_*                   with --large-model: a production-size model (models/fixtures/
                            generate_large.py) installed under --large-root; --large-clients
                            service-mode connections load it (PSS sum measured), and ONE
                            backend-mode connection loads it, from which the backend-mode figure
                            for --large-clients connections is projected (not opened for real)

When the service does not run (inference_status() missing, or service.running not true), the
service keys are null and the backend measurements still run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

HERE = Path(__file__).resolve().parent
SHORT_TEXT = "A wistful piano piece about rainy mornings"
PSS_FIELDS = ("Pss", "Pss_Anon", "Pss_File", "Pss_Shmem")


def log(msg: str) -> None:
    print(f"    service_bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# server processes and their PSS


def proc_parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    return int(stat[stat.rindex(")") + 2:].split()[1])


def proc_title(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def postmaster_pid(data_dir: str) -> int | None:
    try:
        return int(Path(data_dir, "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def server_pids(pm: int) -> dict[int, int]:
    """The postmaster and every process whose parent chain leads to it: {pid: depth}."""
    parents = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            pp = proc_parent(int(d))
            if pp is not None:
                parents[int(d)] = pp
    children: dict[int, list[int]] = {}
    for pid, pp in parents.items():
        children.setdefault(pp, []).append(pid)
    out = {pm: 0}
    todo = [pm]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            if c not in out:
                out[c] = out[p] + 1
                todo.append(c)
    return out


def pss_kb(pid: int) -> dict[str, int] | None:
    """Pss, Pss_Anon, Pss_File, Pss_Shmem (kB) of one process; None if gone or unreadable."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return None
    out = {}
    for line in lines:
        k, _, v = line.partition(":")
        if k in PSS_FIELDS:
            out[k] = int(v.split()[0])
    return out or None


def is_service_title(title: str) -> bool:
    """The service process ("songmatch-infer", or a title like "postgres: songmatch inference model
    process"), not its supervisor."""
    t = title.lower()
    return "songmatch" in t and "infer" in t and "supervisor" not in t


def is_supervisor_title(title: str) -> bool:
    t = title.lower()
    return "songmatch" in t and "supervisor" in t


def mb(kb: float) -> float:
    return round(kb / 1024, 1)


class Server:
    """The server's process tree, found from postmaster.pid in its data directory."""

    def __init__(self, data_dir: str | None):
        self.data_dir = data_dir
        self.pm = postmaster_pid(data_dir) if data_dir else None

    @property
    def readable(self) -> bool:
        return self.pm is not None and pss_kb(self.pm) is not None

    def snapshot(self, service_pid: int | None = None, bench_pids: set[int] | None = None) -> dict | None:
        """PSS summed over the tree, in MB, with a breakdown: postmaster, bench backends (pids given),
        service (pid given, or the process titled songmatch-infer), other (auxiliary processes,
        the supervisor, other sessions)."""
        if not self.readable:
            return None
        bench_pids = bench_pids or set()
        tree = server_pids(self.pm)
        sums = {f: 0 for f in PSS_FIELDS}
        parts = {"postmaster": 0, "bench_backends": 0, "service": 0, "supervisor": 0, "other": 0}
        service_seen = None
        for pid in tree:
            p = pss_kb(pid)
            if p is None:
                continue
            for f in PSS_FIELDS:
                sums[f] += p.get(f, 0)
            if pid == self.pm:
                part = "postmaster"
            elif pid in bench_pids:
                part = "bench_backends"
            elif pid == service_pid or (service_pid is None and is_service_title(proc_title(pid))):
                part = "service"
                service_seen = pid
            elif is_supervisor_title(proc_title(pid)):
                part = "supervisor"
            else:
                part = "other"
            parts[part] += p.get("Pss", 0)
        return {
            "total_mb": mb(sums["Pss"]),
            "anon_mb": mb(sums["Pss_Anon"]),
            "file_mb": mb(sums["Pss_File"]),
            "shmem_mb": mb(sums["Pss_Shmem"]),
            "processes": len(tree),
            "parts_mb": {k: mb(v) for k, v in parts.items()},
            "service_pid": service_pid or service_seen,
        }


# ---------------------------------------------------------------------------------------------
# connections


def connect(dsn: str, mode: str | None) -> psycopg.Connection:
    # (every text run by the model: the service's recent results would answer the cycled texts)
    opts = "-c songmatch.inference_reuse=off" + (f" -c songmatch.inference={mode}" if mode else "")
    return psycopg.connect(dsn, autocommit=True, options=opts)


def close_all(conns: list, pids: set[int] | None = None, timeout: float = 10.0) -> None:
    """Close the connections and wait until their backends have exited, so that the next PSS
    snapshot does not count a backend that is still going away."""
    for c in conns:
        c.close()
    deadline = time.monotonic() + timeout
    for pid in pids or ():
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.02)


def inference_status(dsn: str) -> tuple[dict | None, str | None]:
    """(songmatch.inference_status(), None) or (None, why it is not there)."""
    c = connect(dsn, None)
    pid = c.execute("select pg_backend_pid()").fetchone()[0]
    try:
        st = c.execute("select songmatch.inference_status()").fetchone()[0]
    except psycopg.Error as e:
        return None, f"songmatch.inference_status() failed: {str(e).strip().splitlines()[0]}"
    finally:
        close_all([c], {pid})
    if isinstance(st, str):
        st = json.loads(st)
    return st, None


def service_info(st: dict | None) -> dict:
    return (st or {}).get("service") or {}


def embed_once(c: psycopg.Connection, text: str, model: str | None = None) -> float:
    """One `select songmatch.embed(...)`, fetched; seconds at the client."""
    t0 = time.perf_counter()
    if model:
        c.execute("select songmatch.embed(%s, model => %s)", (text, model)).fetchone()
    else:
        c.execute("select songmatch.embed(%s)", (text,)).fetchone()
    return time.perf_counter() - t0


def session_mode(c: psycopg.Connection) -> str | None:
    """The mode this session's calls use, as inference_status() says (None before issue 12)."""
    try:
        st = c.execute("select songmatch.inference_status()").fetchone()[0]
    except psycopg.Error:
        return None
    return (json.loads(st) if isinstance(st, str) else st).get("mode")


# ---------------------------------------------------------------------------------------------
# measurements


def first_calls(dsn: str, mode: str, fresh: int) -> dict:
    runs, connects, modes = [], [], set()
    for _ in range(fresh):
        t0 = time.perf_counter()
        c = connect(dsn, mode)
        connects.append((time.perf_counter() - t0) * 1000)
        pid = c.execute("select pg_backend_pid()").fetchone()[0]
        runs.append(embed_once(c, "hello") * 1000)
        modes.add(session_mode(c))
        close_all([c], {pid})
    return {"first_call_ms": round(statistics.median(runs), 1), "runs_ms": [round(x, 1) for x in runs],
            "connect_ms": round(statistics.median(connects), 1), "session_modes": sorted(map(str, modes))}


def pss_with_clients(dsn: str, mode: str, clients: int, server: Server, service_pid: int | None) -> dict:
    conns, pids = [], set()
    try:
        for _ in range(clients):
            c = connect(dsn, mode)
            conns.append(c)
            pids.add(c.execute("select pg_backend_pid()").fetchone()[0])
            embed_once(c, SHORT_TEXT)
        snap = server.snapshot(service_pid, pids)
        if snap:
            per_backend = [mb(p["Pss"]) for p in map(pss_kb, sorted(pids)) if p]
            snap["bench_backend_pss_mb_median"] = statistics.median(per_backend) if per_backend else None
            # The headline: in service mode everything; in backend mode everything but the service
            # process (it runs, holding its models, but serves none of these sessions: a server
            # without the service would not have it).
            svc = snap["parts_mb"]["service"] if mode == "backend" else 0.0
            snap["headline_mb"] = round(snap["total_mb"] - svc, 1)
        return snap or {}
    finally:
        close_all(conns, pids)


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    k = min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))  # nearest rank
    return s[k]


def throughput(dsn: str, mode: str, clients: int, texts: list[str], total: int, warmup: int, runs: int,
               probe=None) -> dict:
    """`clients` threads, one connection each; each thread takes the next text index until
    `total` calls are done. The clock runs from the moment all threads are connected and warm.
    Best (and median) of `runs` runs; latency percentiles over the calls of all runs."""
    conns = [connect(dsn, mode) for _ in range(clients)]
    pids = {c.execute("select pg_backend_pid()").fetchone()[0] for c in conns}
    try:
        for c in conns:  # load the model everywhere (backend mode: one session per backend)
            embed_once(c, SHORT_TEXT)
        lock = threading.Lock()
        nxt = [0]
        lat: list[list[float]] = [[] for _ in conns]
        all_ms: list[float] = []
        errors: list[str] = []
        limit = [warmup]

        def worker(i: int, barrier: threading.Barrier) -> None:
            c = conns[i]
            try:
                barrier.wait()
                while True:
                    with lock:
                        k = nxt[0]
                        if k >= limit[0]:
                            return
                        nxt[0] += 1
                    lat[i].append(embed_once(c, texts[k % len(texts)]))
            except Exception as e:  # noqa: BLE001 - reported, the measurement is void
                errors.append(f"{type(e).__name__}: {e}")

        def run(n: int) -> float:
            nxt[0] = 0
            limit[0] = n
            for x in lat:
                x.clear()
            barrier = threading.Barrier(clients + 1)
            threads = [threading.Thread(target=worker, args=(i, barrier), daemon=True) for i in range(clients)]
            for t in threads:
                t.start()
            barrier.wait()
            t0 = time.perf_counter()
            for t in threads:
                t.join()
            return time.perf_counter() - t0

        if warmup:
            run(warmup)
        before = probe() if probe else None
        walls = []
        for _ in range(max(1, runs)):
            walls.append(run(total))
            all_ms += [x * 1000 for per in lat for x in per]
        after = probe() if probe else None
        if errors:
            raise psycopg.OperationalError(f"{mode} throughput: {errors[0]}")
        return {
            "texts_per_s": round(total / min(walls), 1),
            "texts_per_s_median": round(total / statistics.median(walls), 1),
            "runs_s": [round(w, 3) for w in walls],
            "p50_ms": round(percentile(all_ms, 50), 2),
            "p99_ms": round(percentile(all_ms, 99), 2),
            "calls": len(all_ms),
            "probe_before": before,
            "probe_after": after,
        }
    finally:
        close_all(conns, pids)


def ort_batch(model_dir: str, texts_path: str, threads: int, batch: int, runs: int) -> dict:
    """bench/ort_bench.py with the service's thread count, as a child process."""
    cmd = [sys.executable, str(HERE / "ort_bench.py"), "--model-dir", model_dir, "--texts", texts_path,
           "--threads", str(threads), "--batch", str(batch), "--runs", str(runs)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def batch_stats(before: dict | None, after: dict | None) -> dict:
    """The service's counters over the timed run: requests (one per call), batches (inference
    runs), items (texts) when it counts them."""
    b, a = service_info(before), service_info(after)
    out = {}
    for k in ("requests", "batches", "items", "errors"):
        if isinstance(a.get(k), (int, float)) and isinstance(b.get(k), (int, float)):
            out[k] = a[k] - b[k]
    if out.get("batches"):
        out["mean_batch_size"] = round(out.get("items", out.get("requests", 0)) / out["batches"], 2)
    return out


# ---------------------------------------------------------------------------------------------
# the production-size model


def install_model(src: Path, root: Path) -> tuple[str, Path]:
    """Put the model directory `src` at root/<id>/, readable by the server's OS user (hard links
    when on the same file system, else copies; files already there with the same size and
    modification time are kept)."""
    man = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    mid = man["id"]
    dst = root / mid
    dst.mkdir(parents=True, exist_ok=True)
    for d in (root, dst):
        os.chmod(d, 0o755)
    names = [f["path"] for f in man["files"].values()] + ["manifest.json"]
    for name in names:
        s, d = src / name, dst / name
        ss = s.stat()
        if d.exists():
            ds = d.stat()
            if (ds.st_ino == ss.st_ino and ds.st_dev == ss.st_dev) or (ds.st_size == ss.st_size and int(ds.st_mtime) == int(ss.st_mtime)):
                os.chmod(d, 0o644)
                continue
            d.unlink()
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
        os.chmod(d, 0o644)
    return mid, dst


def large_backend_projection(dsn: str, root: Path, mid: str, clients: int, server: Server, service_pid: int | None) -> dict:
    """ONE backend-mode connection loads the large model; project `clients` of them."""
    c = connect(dsn, "backend")
    pid = c.execute("select pg_backend_pid()").fetchone()[0]
    try:
        # Load the library without loading any model (embed of NULL returns NULL): a backend that
        # uses only the large model holds no other session.
        c.execute("select songmatch.embed(null::text)").fetchone()
        c.execute(sql.SQL("set songmatch.model_dir = {}").format(sql.Literal(str(root))))
        tree0 = server.snapshot(service_pid, {pid})
        p0 = pss_kb(pid)
        load_s = embed_once(c, SHORT_TEXT, mid)
        again_s = embed_once(c, SHORT_TEXT, mid)
        p1 = pss_kb(pid)
        mode = session_mode(c)
    finally:
        close_all([c], {pid})
    if not (tree0 and p0 and p1):
        return {"large_backend_load_ms": round(load_s * 1000, 1)}
    d = {f: p1.get(f, 0) - p0.get(f, 0) for f in PSS_FIELDS}
    bare = p0["Pss"]
    # A server without the service: everything but the service process, with `clients` backends.
    base = tree0["total_mb"] * 1024 - tree0["parts_mb"]["service"] * 1024 - bare
    # Anonymous memory grows per backend; file-backed pages (a memory-mapped model.onnx.data) are
    # shared between backends and count once in the PSS sum.
    projected = base + clients * (bare + d["Pss_Anon"] + d["Pss_Shmem"]) + d["Pss_File"]
    naive = base + clients * (bare + d["Pss"])
    return {
        "large_backend_load_ms": round(load_s * 1000, 1),
        "large_backend_second_call_ms": round(again_s * 1000, 1),
        "large_backend_growth_mb": {"pss": mb(d["Pss"]), "anon": mb(d["Pss_Anon"]), "file": mb(d["Pss_File"]),
                                    "shmem": mb(d["Pss_Shmem"])},
        "large_backend_bare_mb": mb(bare),
        "large_backend_base_mb": mb(base),
        "large_backend_pss_mb_projected": mb(projected),
        "large_backend_pss_mb_projected_naive": mb(naive),
        "large_backend_session_mode": mode,
    }


def large_service(dsn: str, root: Path, mid: str, clients: int, server: Server, service_pid: int | None) -> dict:
    conns, pids, times = [], set(), []
    try:
        before = server.snapshot(service_pid)
        st0, _ = inference_status(dsn)
        loaded = any(m.get("id") == mid for m in service_info(st0).get("models") or [])
        for _ in range(clients):
            c = connect(dsn, "service")
            conns.append(c)
            c.execute(sql.SQL("set songmatch.model_dir = {}").format(sql.Literal(str(root))))
            pids.add(c.execute("select pg_backend_pid()").fetchone()[0])
            times.append(embed_once(c, SHORT_TEXT, mid) * 1000)
        snap = server.snapshot(service_pid, pids)
        st = conns[0].execute("select songmatch.inference_status()").fetchone()[0]
        st = json.loads(st) if isinstance(st, str) else st
    finally:
        close_all(conns, pids)
        # unload it again (reload_models empties the service): later measurements and runs start clean
        with connect(dsn, "service") as c:
            c.execute("select songmatch.reload_models()")
    models = {m.get("id"): m.get("memory_mb") for m in service_info(st).get("models") or []}
    out = {
        "large_service_load_ms": round(times[0], 1),
        "large_service_was_loaded": loaded,
        "large_service_later_first_calls_ms": round(statistics.median(times[1:]), 1) if len(times) > 1 else None,
        "large_service_model_memory_mb": models.get(mid),
    }
    if snap:
        out["large_service_pss_mb"] = snap["total_mb"]
        out["large_service_detail"] = snap
        if before:
            out["large_service_process_growth_mb"] = round(snap["parts_mb"]["service"] - before["parts_mb"]["service"], 1)
    return out


# ---------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description="the inference service vs in-backend inference")
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--texts", required=True)
    ap.add_argument("--model-dir", required=True, help="the installed default model (for ort_bench.py)")
    ap.add_argument("--data-dir", help="the server's data directory (default: show data_directory)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--total", type=int, default=1024, help="single-text calls per throughput run, in all")
    ap.add_argument("--warmup", type=int, default=64, help="calls before the timed throughput run")
    ap.add_argument("--fresh", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ort-threads", type=int, help="default: the service's threads, else os.cpu_count()")
    ap.add_argument("--large-model", help="directory of a generated large model (generate_large.py)")
    ap.add_argument("--large-root", default="/var/tmp/songmatch-bench-models")
    ap.add_argument("--large-clients", type=int, default=8)
    ap.add_argument("--skip-backend", action="store_true", help="service measurements only")
    ap.add_argument("--db", default="songmatch_bench_service", help="the database it creates and drops")
    args = ap.parse_args()

    texts = [l.rstrip("\n") for l in open(args.texts, encoding="utf-8") if l.strip()]
    n = args.clients
    res: dict = {"clients": n, "n_texts": len(texts), "total_calls": args.total, "cpus": os.cpu_count()}

    # a database of its own, with the extension as installed now (its refresher off)
    with psycopg.connect(args.dsn, autocommit=True) as a:
        a.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(args.db)))
        a.execute(sql.SQL("create database {}").format(sql.Identifier(args.db)))
        a.execute(sql.SQL("alter database {} set songmatch.auto_refresh = off").format(sql.Identifier(args.db)))
    admin_dsn = args.dsn
    args.dsn = make_conninfo(args.dsn, dbname=args.db)
    try:
        run(args, texts, n, res)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as a:
            a.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(args.db)))
    print(json.dumps(res))


def run(args: argparse.Namespace, texts: list[str], n: int, res: dict) -> None:
    with connect(args.dsn, None) as c:
        c.execute("create extension if not exists songmatch cascade")
        data_dir = args.data_dir or c.execute("select current_setting('data_directory')").fetchone()[0]
        res["settings"] = dict(c.execute(
            "select name, setting from pg_settings where name in ('songmatch.inference', 'songmatch.intra_op_threads',"
            " 'songmatch.max_batch_texts', 'shared_preload_libraries', 'shared_buffers')").fetchall())
    server = Server(data_dir)
    if not server.readable:
        log(f"cannot read the server's processes (postmaster.pid in {data_dir}, /proc/<pid>/smaps_rollup):"
            " PSS keys will be null (run as root or as the server's OS user, on the server's host)")

    st, why = inference_status(args.dsn)
    svc = service_info(st)
    running = svc.get("running") is True
    if not running and why is None:
        why = f"songmatch.inference_status() says the service is not running: {json.dumps(svc)[:300]}"
    # Warm the service (load the default model there once) and check the mode really is "service".
    if running:
        try:
            c = connect(args.dsn, "service")
            pid = c.execute("select pg_backend_pid()").fetchone()[0]
            res["service_warm_call_ms"] = round(embed_once(c, "hello") * 1000, 1)
            res["service_session_mode"] = session_mode(c)
            close_all([c], {pid})
        except psycopg.Error as e:
            running, why = False, f"a service-mode embed failed: {str(e).strip().splitlines()[0]}"
    if not running:
        log(f"THE INFERENCE SERVICE DOES NOT RUN ({why}); service keys are null"
            " (it needs shared_preload_libraries = 'songmatch' and a server restart)")
    else:
        st, _ = inference_status(args.dsn)
        svc = service_info(st)
        res["service_status"] = st
    res["service_running"] = running
    res["service_not_running_reason"] = None if running else why
    service_pid = svc.get("pid") if running else None
    errors = res.setdefault("errors", {})

    def guarded(name: str, fn, *a):
        """Run one measurement; a database error is recorded (errors.<name>) and its keys stay null."""
        try:
            return fn(*a)
        except psycopg.Error as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            errors[name] = msg
            log(f"ERROR in {name}: {msg}")
            return None

    def wanted(mode: str) -> bool:
        return running if mode == "service" else not args.skip_backend

    threads = args.ort_threads or svc.get("threads") or os.cpu_count() or 1
    res["service_threads"] = svc.get("threads")
    res["ort_threads"] = threads

    # 1. first call in a fresh connection
    for mode in ("service", "backend"):
        res[f"{mode}_first_call_ms"] = None
        if wanted(mode):
            log(f"{mode}: first call in {args.fresh} fresh connections")
            fc = guarded(f"{mode}_first_call", first_calls, args.dsn, mode, args.fresh)
            if fc:
                res[f"{mode}_first_call_ms"] = fc["first_call_ms"]
                res[f"{mode}_first_call_detail"] = fc

    # 2. memory with n connections open, one embed each
    res["idle_pss"] = server.snapshot(service_pid)
    for mode in ("service", "backend"):
        res[f"{mode}_pss_mb_{n}"] = None
        if wanted(mode):
            log(f"{mode}: PSS of the server with {n} connections open")
            snap = guarded(f"{mode}_pss", pss_with_clients, args.dsn, mode, n, server, service_pid)
            if snap:
                res[f"{mode}_pss_mb_{n}"] = snap.get("headline_mb")
                res[f"{mode}_pss_detail_{n}"] = snap
    # the default model's footprint in the service (other models it may hold are listed, not counted)
    default_id = json.loads(Path(args.model_dir, "manifest.json").read_text(encoding="utf-8")).get("id")
    models = svc.get("models") or []
    res["service_models"] = models
    res["service_model_memory_mb"] = next((m.get("memory_mb") for m in models if m.get("id") == default_id), None)
    others = [m for m in models if m.get("id") != default_id]
    if others:
        res["service_other_models"] = [m.get("id") for m in others]
        res["service_other_models_memory_mb"] = round(sum(m.get("memory_mb") or 0 for m in others), 1)
        log(f"the service also holds {res['service_other_models']} ({res['service_other_models_memory_mb']} MB, from an"
            " earlier run?): their memory is in the service's PSS and left out of the goal check")

    # 3. throughput and latency with n concurrent connections, single-text calls
    for mode in ("service", "backend"):
        for k in ("texts_per_s", "p50_ms", "p99_ms"):
            res[f"{mode}_{k}_{n}"] = None
        if not wanted(mode):
            continue
        log(f"{mode}: {n} connections, {args.total} single-text calls")
        probe = (lambda: inference_status(args.dsn)[0]) if mode == "service" else None
        tp = guarded(f"{mode}_throughput", throughput, args.dsn, mode, n, texts, args.total, args.warmup,
                     args.runs, probe)
        if tp:
            st0, st1 = tp.pop("probe_before"), tp.pop("probe_after")
            for k in ("texts_per_s", "p50_ms", "p99_ms"):
                res[f"{mode}_{k}_{n}"] = tp[k]
            res[f"{mode}_throughput_detail_{n}"] = tp
            if mode == "service":
                res["service_batching"] = batch_stats(st0, st1)

    log(f"raw onnxruntime, batch {args.batch}, {threads} intra-op threads")
    ob = ort_batch(args.model_dir, args.texts, threads, args.batch, args.runs)
    res["ort_batch_texts_per_s"] = ob["ort_texts_per_s"]
    res["ort_batch_detail"] = {k: ob.get(k) for k in ("ort_texts_per_s_median", "ort_sorted_texts_per_s", "threads", "batch", "mean_tokens")}
    se, be, oe = res.get(f"service_texts_per_s_{n}"), res.get(f"backend_texts_per_s_{n}"), res["ort_batch_texts_per_s"]
    res["service_vs_ort_batch"] = round(se / oe, 3) if se and oe else None
    res["service_vs_backend"] = round(se / be, 3) if se and be else None

    # 4. the production-size model: backend first (before the service holds it), then the service
    if args.large_model:
        src = Path(args.large_model)
        gen = src / "generation.json"
        res["large_model_generation_s"] = json.loads(gen.read_text()).get("generation_s") if gen.exists() else None
        root = Path(args.large_root)
        mid, dst = install_model(src, root)
        m = args.large_clients
        res.update({"large_model_id": mid, "large_model_dir": str(dst), "large_clients": m,
                    "large_model_bytes": sum(p.stat().st_size for p in dst.iterdir() if p.is_file()),
                    f"large_backend_pss_mb_{m}_projected": None, f"large_service_pss_mb_{m}": None})
        if server.readable and not args.skip_backend:
            log(f"large model {mid}: ONE backend-mode connection loads it (projection for {m})")
            lb = guarded("large_backend", large_backend_projection, args.dsn, root, mid, m, server, service_pid)
            if lb:
                res[f"large_backend_pss_mb_{m}_projected"] = lb.pop("large_backend_pss_mb_projected", None)
                res[f"large_backend_pss_mb_{m}_projected_naive"] = lb.pop("large_backend_pss_mb_projected_naive", None)
                res.update(lb)
        if running:
            log(f"large model {mid}: {m} service-mode connections")
            ls = guarded("large_service", large_service, args.dsn, root, mid, m, server, service_pid)
            if ls:
                res[f"large_service_pss_mb_{m}"] = ls.pop("large_service_pss_mb", None)
                res.update(ls)


if __name__ == "__main__":
    main()
