#!/usr/bin/env python3
"""Combine the measurements (JSON files from pg_bench, ort_bench, http_client) into a table,
then print the summary as ONE JSON object on the last line.  Goals are information only."""

from __future__ import annotations

import argparse
import json
import os


def fmt(v, unit: str = "") -> str:
    if v is None:
        return "n/a"
    return f"{v:,.1f}{unit}" if isinstance(v, float) else f"{v}{unit}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg", required=True)
    ap.add_argument("--ort", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    pg = json.load(open(args.pg))
    ort = json.load(open(args.ort))
    http = json.load(open(args.http))

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
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    w[0] = max(w[0], len("measure"))
    w[2] = max(w[2], len("goal"))
    print()
    print(f"songmatch bench: {pg['n_texts']} texts"
          + (f" (mean {ort['mean_tokens']:.1f} tokens)" if ort.get("mean_tokens") else "")
          + f", {args.threads} intra-op thread, batch {args.batch}; best of 3 runs; load average "
          + " / ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
    print(f"  {'measure':<{w[0]}}  {'value':>{w[1]}}  {'goal':<{w[2]}}  notes")
    print(f"  {'-' * w[0]}  {'-' * w[1]}  {'-' * w[2]}  -----")
    for a, b, c, d in rows:
        print(f"  {a:<{w[0]}}  {b:>{w[1]}}  {c:<{w[2]}}  {d}")
    if "parity_max_abs_diff" in pg:
        print(f"  same work check: songmatch vs Python pipeline, max |diff| {pg['parity_max_abs_diff']:.2e},"
              f" min cosine {pg['parity_min_cosine']:.6f}")
    if pg.get("settings"):
        print("  songmatch settings: " + ", ".join(f"{k.split('.')[1]}={v}" for k, v in sorted(pg["settings"].items())))
    print("  (goals are information: the bench fails only when a measurement breaks)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
