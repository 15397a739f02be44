#!/usr/bin/env python3
"""Combine the measurements (JSON files from pg_bench, ort_bench, http_client, match_bench) into
a table, then print the summary as ONE JSON object on the last line.  Goals are information only."""

from __future__ import annotations

import argparse
import json
import os


def fmt(v, unit: str = "") -> str:
    if v is None:
        return "n/a"
    return f"{v:,.1f}{unit}" if isinstance(v, float) else f"{v}{unit}"


MATCH_KEYS = ["stage1_1k_ms", "stage1_10k_ms", "stage1_100k_ms", "stage2_30_ms", "stage2_200_ms", "cached_ms", "recommend_100k_ms", "hnsw_100k_ms",
              "e2e_seed_ms", "e2e_cold_ms", "e2e_cached_ms", "e2e_cached_vs_seed", "e2e_cold_vs_seed",
              # BENCH_LARGE=1 (1M tracks)
              "stage1_1m_ms", "recommend_1m_ms", "hnsw_1m_ms",
              # a live catalogue: matchers and writers at once
              "churn_failed", "churn_match_p50_ms", "churn_match_p99_ms", "idle_match_p50_ms", "idle_match_p99_ms",
              "churn_inferences_per_changed_document"]


def num(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, (int, float)):
        return f"{v:,.2f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


def signed(v) -> str:
    return "n/a" if v is None else ("+" if v >= 0 else "-") + num(abs(v))


def ms_fmt(v) -> str:
    return "n/a" if v is None else num(v) + " ms"


def cpu_info() -> dict:
    """The CPU the bench ran on: its model name and whether it has AVX-512 (/proc/cpuinfo)."""
    model, flags = "unknown", set()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            k, _, v = line.partition(":")
            if k.strip() == "model name" and model == "unknown":
                model = v.strip()
            elif k.strip() == "flags" and not flags:
                flags = set(v.split())
    except OSError:
        pass
    return {"model": model, "avx512": "avx512f" in flags, "cpus": os.cpu_count()}


def match_rows(m: dict, goal) -> list[tuple[str, str, str, str]]:
    """Table rows of match_bench.py's measurements."""
    rows = []
    d = m.get("stage1_detail", {})
    for key in ("1k", "10k", "100k", "1m"):
        v = m.get(f"stage1_{key}_ms")
        if v is None:
            continue
        det = d.get(key, {})
        ph = det.get("phases_ms", {})
        note = (f"runs {det.get('runs_ms')}; in songmatch: context hash {num(ph.get('context_hash_ms'))},"
                f" artifacts {num(ph.get('artifacts_ms'))} (incl. the hash), stage 1 {num(ph.get('stage1_ms'))},"
                f" store {num(ph.get('stored_ms'))} ms; reads alone (executor): vectors"
                f" {num(det.get('read_embeddings_executor_ms'))}, track rows {num(det.get('read_tracks_executor_ms'))} ms"
                + (f"; embed_tracks (all hits) {num(det['embed_tracks_all_hits_ms'])} ms"
                   if det.get("embed_tracks_all_hits_ms") is not None else ""))
        # issue 14's goals: 10k < 25 ms, 100k < 250 ms
        limit = {"10k": 25, "100k": 250}.get(key)
        g = f"< {limit}" if limit else ""
        rows.append((f"stage1_{key}_ms (match_playlist, miss)", ms_fmt(v), g,
                     (goal(v < limit) + "  " if limit else "") + note))
    for n in ("30", "200"):
        v = m.get(f"stage2_{n}_ms")
        if v is not None:
            sd = m.get("stage2_detail", {}).get(n, {})
            rows.append((f"stage2_{n}_ms (learned ranker, {n} candidates)", ms_fmt(v), "",
                         f"ranker time inside one match_playlist miss; the whole call {num(sd.get('call_ms_p50'))} ms"
                         f" vs {num(sd.get('call_ranking_one_ms_p50'))} ms ranking one candidate"))
    v = m.get("cached_ms")
    if v is not None:
        cd = m.get("cached_detail", {})
        ph = cd.get("phases_ms", {})
        rows.append(("cached_ms (same call again)", ms_fmt(v), "< 1.5",
                     goal(v < 1.5) + f"  p90 {num(cd.get('p90_ms'))} ms, {cd.get('candidates')} candidates;"
                     f" in songmatch {num(ph.get('cache_total_ms'))} ms of which context hash"
                     f" {num(ph.get('context_hash_ms'))} ms; select 1 {num(cd.get('select_1_ms'))} ms"))
    rk = "recommend_1m_ms" if m.get("recommend_1m_ms") is not None else "recommend_100k_ms"
    v = m.get(rk)
    if v is not None:
        rd = m.get("recommend_detail", {})
        ph = rd.get("phases_ms", {})
        rows.append((f"{rk} (whole catalogue, miss)", ms_fmt(v), "< 50",
                     goal(v < 50) + f"  {rd.get('candidates')} candidates ({rd.get('index_type')}); index search {num(ph.get('index_search_ms'))},"
                     f" artifacts {num(ph.get('artifacts_ms'))}, stage 1 + 2 {num(ph.get('stage1_ms'))} ms;"
                     f" recall@20 {rd.get('recall_at_20')} against match_playlist over all {rd.get('catalogue')} tracks (goal >= 0.95)"))
    hk = "hnsw_1m_ms" if m.get("hnsw_1m_ms") is not None else "hnsw_100k_ms"
    v = m.get(hk)
    if v is not None:
        hd = m.get("hnsw_detail", {})
        rows.append((f"{hk} (top 20, pgvector)", ms_fmt(v), "",
                     f"{hd.get('rows')} vectors, index used: {hd.get('uses_index')}, recall@20"
                     f" {hd.get('recall_at_20')} (ef_search {hd.get('ef_search')}), p90 {num(hd.get('p90_ms'))} ms"))
    e = m.get("e2e_detail", {})
    if m.get("e2e_cold_ms") is not None:
        shape = f"{e.get('liked')} liked songs x {e.get('playlists')} playlists of {e.get('members_per_playlist')}"
        rows.append(("e2e_seed_ms (HTTP, 1 POST/song)", ms_fmt(m.get("e2e_seed_ms")), "",
                     f"{shape}; {e.get('seed_posts')} POSTs; runs {e.get('seed_runs_ms')}"))
        cc = e.get("cold_counters", {})
        inf = next((v for k, v in cc.items() if k.startswith("inferences:")), None)
        rows.append(("e2e_cold_ms (songmatch, nothing stored)", ms_fmt(m.get("e2e_cold_ms")), "",
                     f"runs {e.get('cold_runs_ms')}; {num(inf)} inferences, {num(cc.get('profile_recomputes'))} profiles"))
        ph = e.get("cached_phases_ms_all_playlists", {})
        rows.append(("e2e_cached_ms (songmatch, again)", ms_fmt(m.get("e2e_cached_ms")), "",
                     f"p50 of {len(e.get('cached_runs_ms', []))}; in songmatch {num(ph.get('cache_total_ms'))} ms over"
                     f" the playlists, of which context hashes {num(ph.get('context_hash_ms'))} ms"))
        r = m.get("e2e_cached_vs_seed")
        rows.append(("e2e_cached_vs_seed", "n/a" if r is None else f"{r:,.1f}x", ">= 100",
                     goal(None if r is None else r >= 100)))
        r = m.get("e2e_cold_vs_seed")
        rows.append(("e2e_cold_vs_seed", "n/a" if r is None else f"{r:.2f}x", "", "information"))
    cd = m.get("churn_detail")
    if cd:
        rows.append(("churn_failed (matchers and writers at once)", str(m.get("churn_failed")), "0",
                     goal(m.get("churn_failed") == 0) + f"  {cd.get('matchers')} matchers x {cd.get('seconds')} s,"
                     f" {cd.get('popularity_updates')} popularity updates, {cd.get('changed_documents')} changed documents;"
                     f" deadlocks {cd.get('deadlocks')}; {cd.get('errors')}"))
        p99, idle99 = m.get("churn_match_p99_ms"), m.get("idle_match_p99_ms")
        rows.append(("churn_match_p50_ms / p99 (1,000 candidates)", f"{num(m.get('churn_match_p50_ms'))} / {num(p99)} ms",
                     "p99 <= 3x idle", goal(None if p99 is None or idle99 is None else p99 <= 3 * idle99)
                     + f"  idle in the same run {num(m.get('idle_match_p50_ms'))} / {num(idle99)} ms;"
                     f" {cd.get('calls_idle')} idle calls, {cd.get('calls_churn')} under churn"))
        v = m.get("churn_inferences_per_changed_document")
        rows.append(("churn_inferences_per_changed_document", "n/a" if v is None else f"{v:.3f}", "1.0",
                     goal(None if v is None else abs(v - 1.0) < 1e-9) + f"  {num(cd.get('model_runs'))} model runs"))
    return rows


def match_notes(m: dict) -> list[str]:
    out = []
    load = m.get("synthetic_load_s")
    if load:
        out.append(f"matching data: {m.get('synthetic_rows')} synthetic tracks with unit vectors (all embedding hits:"
                   f" {m.get('stage1_counters', {}).get('embedding_misses', 0):.0f} misses); load {load} s;"
                   f" sizes {m.get('synthetic_sizes_mb')} MB; database dropped afterwards")
    lib = m.get("library")
    if lib:
        out.append(f"songmatch.so {lib['bytes'] / 1e6:.1f} MB, {lib['mtime']}"
                   + ("  (LOOKS LIKE A DEBUG BUILD)" if lib["bytes"] > 50e6 else ""))
    if m.get("library_changed"):
        out.append(f"WARNING: songmatch.so was reinstalled during the matching bench ({m['library_changed']}):"
                   " its numbers may mix two builds")
    return out


MODELS_KEYS = ["emotions_per_s", "ort_emotions_per_s", "emotions_vs_ort",
               "rerank_pairs_per_s", "ort_rerank_pairs_per_s", "rerank_vs_ort",
               "cross_encoder_pairs_per_s", "ort_cross_encoder_pairs_per_s", "cross_encoder_vs_ort"]
BACKFILL_KEYS = ["backfill_items_per_s", "ort_backfill_texts_per_s", "backfill_vs_ort", "backfill_n"]


def models_rows(m: dict) -> list[tuple[str, str, str, str]]:
    """Table rows of models_bench.py's measurements (songmatch vs raw onnxruntime, same run)."""
    def runs(key: str) -> str:
        return f"median {num(m.get(key + '_per_s_median'))}, Python median {num(m.get('ort_' + key + '_per_s_median'))}"

    def ratio(v) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    return [
        ("songmatch emotions_batch (SQL)", f"{num(m.get('emotions_per_s'))} texts/s", "",
         f"{m.get('emotion_model')}: embed, head, sigmoid; {runs('emotions')}"),
        ("raw onnxruntime emotions (Python)", f"{num(m.get('ort_emotions_per_s'))} texts/s", "",
         f"same two steps, same batches (longest first); max |prob diff| {m.get('emotions_max_abs_diff', float('nan')):.1e}"
         " (songmatch rounds to 6 decimals)"),
        ("emotions_vs_ort", ratio(m.get("emotions_vs_ort")), "", "information"),
        ("songmatch rerank, fixture Qwen3 (SQL)", f"{num(m.get('rerank_pairs_per_s'))} pairs/s", "",
         f"TINY RANDOM-WEIGHT FIXTURE: measures songmatch's per-pair overhead, not a real reranker;"
         f" {m.get('n_texts')} docs, {num(m.get('rerank_mean_prompt_tokens'))} prompt tokens; {runs('rerank_pairs')}"),
        ("raw onnxruntime Qwen3 fixture (Python)", f"{num(m.get('ort_rerank_pairs_per_s'))} pairs/s", "",
         f"same prompts, batches (<= 32, <= 1024 padded tokens, longest first), left padding;"
         f" max |score diff| {m.get('rerank_pairs_max_abs_diff', float('nan')):.1e}"),
        ("rerank_vs_ort", ratio(m.get("rerank_vs_ort")), "", "information"),
        ("songmatch rerank, fixture cross-encoder", f"{num(m.get('cross_encoder_pairs_per_s'))} pairs/s", "",
         f"TINY RANDOM-WEIGHT FIXTURE (per-pair overhead); {num(m.get('cross_encoder_mean_tokens'))} pair tokens;"
         f" {runs('cross_encoder_pairs')}"),
        ("raw onnxruntime cross-encoder (Python)", f"{num(m.get('ort_cross_encoder_pairs_per_s'))} pairs/s", "",
         f"same pair encoding and batches; max |score diff| {m.get('cross_encoder_pairs_max_abs_diff', float('nan')):.1e}"),
        ("cross_encoder_vs_ort", ratio(m.get("cross_encoder_vs_ort")), "", "information"),
    ]


REFRESH_KEYS = ["refresh_5000_s", "backfill_5000_s", "refresh_vs_backfill", "match_p50_idle_ms", "match_p50_refreshing_ms"]


def refresh_rows(r: dict, goal) -> list[tuple[str, str, str, str]]:
    """Table rows of refresh_bench.py's measurements."""
    if r.get("refresh_error"):
        return [("background refresh", "n/a", "", r["refresh_error"])]
    v = r.get("refresh_vs_backfill")
    n = r.get("refresh_n", 5000)
    return [
        (f"background refresh of {n:,} new tracks (no CALL)", f"{num(r.get('refresh_5000_s'))} s", "",
         f"embeddings, emotions, genres; {num(r.get('refresh_items_per_s_1m'))} items/s in pipeline_status"),
        (f"CALL backfill('stale') of {n:,} tracks", f"{num(r.get('backfill_5000_s'))} s", "", "the same work, in the foreground"),
        ("refresh_vs_backfill (backfill time / refresh time)", "n/a" if v is None else f"{v:.3f}", ">= 0.9",
         goal(None if v is None else v >= 0.9)),
        ("match_playlist p50, idle / while the refresher runs", f"{num(r.get('match_p50_idle_ms'))} / {num(r.get('match_p50_refreshing_ms'))} ms",
         "", f"200 stored candidates, cache misses; {r.get('match_calls_refreshing')} calls during the refresh"),
    ]


def backfill_rows(b: dict, goal) -> list[tuple[str, str, str, str]]:
    """Table rows of backfill_bench.py's measurements."""
    r = b.get("backfill_vs_ort")
    return [
        (f"songmatch backfill('embeddings'), {b.get('backfill_n'):,} tracks", f"{num(b.get('backfill_items_per_s'))} items/s", "",
         f"CALL took {num(b.get('backfill_s'))} s in {b.get('backfill_batches')} batches of {b.get('backfill_batch_size')};"
         f" backfill_status says {num(b.get('backfill_status_items_per_s'))} items/s; {num(b.get('backfill_mean_tokens'))}"
         f" tokens per document"),
        ("raw onnxruntime, same documents", f"{num(b.get('ort_backfill_texts_per_s'))} texts/s", "",
         f"batches of 32 in id order, took {num(b.get('ort_backfill_s'))} s; max |diff| vs stored vectors"
         f" {b.get('backfill_parity_max_abs_diff', float('nan')):.1e}"),
        ("backfill_vs_ort", "n/a" if r is None else f"{r:.3f}", ">= 0.9", goal(None if r is None else r >= 0.9)),
    ]


SERVICE_KEYS = ["service_running", "service_threads", "service_first_call_ms", "backend_first_call_ms",
                "service_pss_mb_{n}", "backend_pss_mb_{n}", "service_texts_per_s_{n}", "backend_texts_per_s_{n}",
                "ort_batch_texts_per_s", "service_vs_ort_batch", "service_vs_backend", "service_p50_ms_{n}",
                "service_p99_ms_{n}", "backend_p50_ms_{n}", "backend_p99_ms_{n}", "service_model_memory_mb",
                "large_model_id", "large_model_generation_s", "large_service_pss_mb_{m}", "large_backend_pss_mb_{m}_projected",
                "large_service_load_ms", "large_backend_load_ms"]


def service_keys(s: dict) -> dict:
    """The summary keys of service_bench.py ({n}: its client count, 16; {m}: the large model's, 8)."""
    n, m = s.get("clients", 16), s.get("large_clients", 8)
    out = {k.format(n=n, m=m): s.get(k.format(n=n, m=m)) for k in SERVICE_KEYS}
    out["service_mean_batch_size"] = (s.get("service_batching") or {}).get("mean_batch_size")
    return out


def service_rows(s: dict, goal) -> list[tuple[str, str, str, str]]:
    """Table rows of service_bench.py's measurements (issue 12: the inference service)."""
    n, m = s.get("clients", 16), s.get("large_clients", 8)
    off = "" if s.get("service_running") else "SERVICE NOT RUNNING (see below)"
    rows = []

    def fc_note(mode: str) -> str:
        d = s.get(f"{mode}_first_call_detail") or {}
        return f"runs {d.get('runs_ms')}; connect {num(d.get('connect_ms'))} ms" if d else off

    v = s.get("service_first_call_ms")
    rows.append(("service_first_call_ms (fresh connection)", ms_fmt(v), "< 20",
                 (goal(None if v is None else v < 20) + "  " + fc_note("service")).strip()))
    rows.append(("backend_first_call_ms (fresh, in-backend)", ms_fmt(s.get("backend_first_call_ms")), "",
                 fc_note("backend")))

    # memory: the goal is checked without shared memory (shared_buffers pages touched by earlier work
    # are in every process's PSS sum, whatever the inference mode)
    sd = s.get(f"service_pss_detail_{n}") or {}
    bd = s.get(f"backend_pss_detail_{n}") or {}
    model_mb = s.get("service_model_memory_mb")
    if model_mb is None and sd:
        model_mb = (sd.get("parts_mb") or {}).get("service")
    v = s.get(f"service_pss_mb_{n}")
    limit = None if model_mb is None else model_mb + n * 10
    other_mb = s.get("service_other_models_memory_mb") or 0  # models an earlier run left in the service
    checked = None if not sd else round(sd["total_mb"] - sd.get("shmem_mb", 0) - other_mb, 1)
    note = off
    if sd:
        p = sd.get("parts_mb", {})
        note = (f"service process {num(p.get('service'))}, {n} backends {num(p.get('bench_backends'))} (median"
                f" {num(sd.get('bench_backend_pss_mb_median'))} each), postmaster {num(p.get('postmaster'))}, other"
                f" {num(p.get('other'))}; shared memory {num(sd.get('shmem_mb'))} MB"
                + (f" and other models in the service {num(other_mb)} MB" if other_mb else "")
                + f" not in the goal check: {num(checked)} MB vs limit {num(limit)} = model {num(model_mb)} + {n} x 10")
    rows.append((f"service_pss_mb_{n} (server PSS, {n} conns)", "n/a" if v is None else f"{num(v)} MB",
                 "<= model + %d" % (n * 10), (goal(None if checked is None or limit is None else checked <= limit)
                                              + "  " + note).strip()))
    v = s.get(f"backend_pss_mb_{n}")
    note = ""
    if bd:
        p = bd.get("parts_mb", {})
        note = (f"{n} backends {num(p.get('bench_backends'))} (median {num(bd.get('bench_backend_pss_mb_median'))} each),"
                f" shared memory {num(bd.get('shmem_mb'))} MB; the idle service process ({num(p.get('service'))} MB) left out")
    rows.append((f"backend_pss_mb_{n} (server PSS, {n} conns)", "n/a" if v is None else f"{num(v)} MB", "", note))

    # throughput
    tp = lambda k: "n/a" if s.get(k) is None else f"{num(s.get(k))} texts/s"  # noqa: E731
    sb = s.get("service_batching") or {}
    rows.append((f"service_texts_per_s_{n} (1 text/call)", tp(f"service_texts_per_s_{n}"), "",
                 (f"{n} connections, {s.get('total_calls')} calls; p50 {num(s.get(f'service_p50_ms_{n}'))} ms, p99"
                  f" {num(s.get(f'service_p99_ms_{n}'))} ms; mean batch {num(sb.get('mean_batch_size'))}"
                  f" ({sb.get('requests')} requests in {sb.get('batches')} batches); {s.get('service_threads')} threads;"
                  f" best of {len((s.get(f'service_throughput_detail_{n}') or {}).get('runs_s') or [])}, median"
                  f" {num((s.get(f'service_throughput_detail_{n}') or {}).get('texts_per_s_median'))}")
                 if s.get("service_running") else off))
    rows.append((f"backend_texts_per_s_{n} (1 text/call)", tp(f"backend_texts_per_s_{n}"), "",
                 f"p50 {num(s.get(f'backend_p50_ms_{n}'))} ms, p99 {num(s.get(f'backend_p99_ms_{n}'))} ms; median"
                 f" {num((s.get(f'backend_throughput_detail_{n}') or {}).get('texts_per_s_median'))};"
                 f" intra_op_threads {(s.get('settings') or {}).get('songmatch.intra_op_threads')} per backend"))
    od = s.get("ort_batch_detail") or {}
    rows.append(("ort_batch_texts_per_s (Python, batch)", tp("ort_batch_texts_per_s"), "",
                 f"batch {od.get('batch')}, {od.get('threads')} intra-op threads (the service's), in input order;"
                 f" median {num(od.get('ort_texts_per_s_median'))}"))
    r = s.get("service_vs_ort_batch")
    rows.append(("service_vs_ort_batch", "n/a" if r is None else f"{r:.3f}", ">= 0.9", goal(None if r is None else r >= 0.9)))
    r = s.get("service_vs_backend")
    rows.append(("service_vs_backend", "n/a" if r is None else f"{r:.2f}x", ">= 2", goal(None if r is None else r >= 2)))

    # the production-size model
    if s.get("large_model_id"):
        gb = (s.get("large_model_bytes") or 0) / 1e9
        gen = s.get("large_model_generation_s")
        v = s.get(f"large_service_pss_mb_{m}")
        ld = s.get("large_service_detail") or {}
        rows.append((f"large_service_pss_mb_{m} ({m} conns)", "n/a" if v is None else f"{num(v)} MB", "",
                     (f"{s['large_model_id']} ({gb:.2f} GB on disk, generated in {num(gen)} s); service process"
                      f" {num((ld.get('parts_mb') or {}).get('service'))} MB ({signed(s.get('large_service_process_growth_mb'))} MB by"
                      f" this step), model memory_mb {num(s.get('large_service_model_memory_mb'))};"
                      f" {'first call (already loaded by an earlier run)' if s.get('large_service_was_loaded') else 'load'}"
                      f" {num(s.get('large_service_load_ms'))} ms,"
                      f" later first calls {num(s.get('large_service_later_first_calls_ms'))} ms")
                     if v is not None else f"{s['large_model_id']}: " + (off or ("ERROR (see below)" if (s.get("errors") or {}).get("large_service") else "not measured"))))
        v = s.get(f"large_backend_pss_mb_{m}_projected")
        g = s.get("large_backend_growth_mb") or {}
        rows.append((f"large_backend_pss_mb_{m}_projected", "n/a" if v is None else f"{num(v)} MB", "",
                     f"ONE backend loaded it in {num(s.get('large_backend_load_ms'))} ms: +{num(g.get('pss'))} MB"
                     f" (anon {num(g.get('anon'))}, file {num(g.get('file'))}); projection = base"
                     f" {num(s.get('large_backend_base_mb'))} + {m} x (bare backend {num(s.get('large_backend_bare_mb'))}"
                     f" + anon growth) + file growth once; naive {m} x PSS growth:"
                     f" {num(s.get(f'large_backend_pss_mb_{m}_projected_naive'))} MB"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg", required=True)
    ap.add_argument("--ort", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--server", default="unknown", help="the PostgreSQL server (version, and the major songmatch was built for)")
    ap.add_argument("--match", help="match_bench.py's JSON (matching latency); optional")
    ap.add_argument("--models", help="models_bench.py's JSON (emotions, rerankers); optional")
    ap.add_argument("--backfill", help="backfill_bench.py's JSON; optional")
    ap.add_argument("--service", help="service_bench.py's JSON (inference service vs in-backend); optional")
    ap.add_argument("--refresh", help="refresh_bench.py's JSON (background refresh vs CALL backfill); optional")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    pg = json.load(open(args.pg))
    ort = json.load(open(args.ort))
    http = json.load(open(args.http))
    match = json.load(open(args.match)) if args.match else None
    models = json.load(open(args.models)) if args.models else None
    backfill = json.load(open(args.backfill)) if args.backfill else None
    service = json.load(open(args.service)) if args.service else None
    refresh = json.load(open(args.refresh)) if args.refresh else None

    e, o, h = pg["embed_texts_per_s"], ort["ort_texts_per_s"], http["http_texts_per_s"]
    summary = {
        "embed_texts_per_s": e,
        "ort_texts_per_s": o,
        "http_texts_per_s": h,
        "embed_vs_ort": round(e / o, 3),
        "embed_vs_http": round(e / h, 3),
        "first_call_ms": pg["first_call_ms"],
        "backend_rss_mb": pg.get("backend_rss_mb"),
        "threads": args.threads,
        "batch": args.batch,
        "n_texts": pg["n_texts"],
    }

    def goal(ok) -> str:
        return "n/a" if ok is None else ("met" if ok else "MISSED")

    rss = summary["backend_rss_mb"]
    rows = [
        ("songmatch embed_batch (SQL)", fmt(e, " texts/s"), "", f"median {fmt(pg['embed_texts_per_s_median'])}"),
        ("raw onnxruntime (Python)", fmt(o, " texts/s"), "",
         f"median {fmt(ort['ort_texts_per_s_median'])}; longest-first batches {fmt(ort['ort_sorted_texts_per_s'])}"),
        ("HTTP service, 1 text/request", fmt(h, " texts/s"), "", f"median {fmt(http['http_texts_per_s_median'])}"),
        ("embed_vs_ort", f"{summary['embed_vs_ort']:.3f}", ">= 0.95", goal(summary["embed_vs_ort"] >= 0.95)),
        ("embed_vs_http", f"{summary['embed_vs_http']:.3f}", ">= 1.1", goal(summary["embed_vs_http"] >= 1.1)),
        ("first_call_ms (fresh backend)", fmt(summary["first_call_ms"], " ms"), "< 300",
         goal(summary["first_call_ms"] < 300) + f"  runs {pg['first_call_runs_ms']};"
         f" Python session + first embed {fmt(ort.get('ort_first_call_ms'))} ms"),
        ("backend_rss_mb (growth)", fmt(rss, " MB"), "<= 120",
         goal(None if rss is None else rss <= 120)
         + (f"  {fmt(pg.get('rss_before_mb'))} -> {fmt(pg.get('rss_after_mb'))} MB after {pg.get('rss_texts')} texts"
            f" (anon +{fmt(pg.get('rss_anon_growth_mb'))}, file +{fmt(pg.get('rss_file_growth_mb'))});"
            f" Python process +{fmt(ort.get('ort_rss_growth_mb'))} MB"
            if rss is not None else "")),
    ]
    if service is not None:
        summary.update(service_keys(service))
        rows += service_rows(service, goal)
    if models is not None:
        summary.update({k: models.get(k) for k in MODELS_KEYS})
        rows += models_rows(models)
    if backfill is not None:
        summary.update({k: backfill.get(k) for k in BACKFILL_KEYS})
        rows += backfill_rows(backfill, goal)
    if refresh is not None:
        summary.update({k: refresh.get(k) for k in REFRESH_KEYS})
        rows += refresh_rows(refresh, goal)
    if match is not None:
        summary.update({k: match.get(k) for k in MATCH_KEYS})
        rows += match_rows(match, goal)
    cpu = cpu_info()
    summary["cpu"] = cpu
    summary["postgresql"] = args.server
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    w[0] = max(w[0], len("measure"))
    w[2] = max(w[2], len("goal"))
    print()
    print(f"songmatch bench: {pg['n_texts']} texts"
          + (f" (mean {ort['mean_tokens']:.1f} tokens)" if ort.get("mean_tokens") else "")
          + f", {args.threads} intra-op thread, batch {args.batch}; best of 3 runs; load average "
          + " / ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
    # (results differ by CPU: compare within one run, and name the CPU beside any figure)
    print(f"  CPU: {cpu['model']}, AVX-512 {'yes' if cpu['avx512'] else 'no'}")
    print(f"  PostgreSQL: {args.server}")
    print(f"  {'measure':<{w[0]}}  {'value':>{w[1]}}  {'goal':<{w[2]}}  notes")
    print(f"  {'-' * w[0]}  {'-' * w[1]}  {'-' * w[2]}  -----")
    for a, b, c, d in rows:
        print(f"  {a:<{w[0]}}  {b:>{w[1]}}  {c:<{w[2]}}  {d}")
    if "parity_max_abs_diff" in pg:
        print(f"  same work check: songmatch vs Python pipeline, max |diff| {pg['parity_max_abs_diff']:.2e},"
              f" min cosine {pg['parity_min_cosine']:.6f}")
    if pg.get("settings"):
        print("  songmatch settings: " + ", ".join(f"{k.split('.')[1]}={v}" for k, v in sorted(pg["settings"].items())))
    if service is not None and not service.get("service_running"):
        print(f"  inference service NOT RUNNING ({service.get('service_not_running_reason')}): service keys are null")
    if service is not None:
        for name, msg in (service.get("errors") or {}).items():
            print(f"  inference service bench: ERROR in {name}: {msg} (its keys are null)")
        if service.get("service_other_models"):
            print(f"  the inference service also held {service['service_other_models']}"
                  f" ({num(service.get('service_other_models_memory_mb'))} MB; from an earlier run?) during the"
                  " measurement: in its PSS, left out of the goal check")
    if backfill is not None:
        print(f"  backfill data: {backfill.get('backfill_n'):,} generated tracks with analyses"
              f" ({backfill.get('backfill_distinct_documents'):,} distinct documents), loaded in"
              f" {backfill.get('backfill_load_s')} s; the whole backfill measurement took {backfill.get('backfill_total_s')} s"
              f" (BENCH_BACKFILL_N sets the size); database dropped afterwards")
    if match is not None:
        for line in match_notes(match):
            print("  " + line)
    print("  (goals are information: the bench fails only when a measurement breaks)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
