"""report.md and metrics.svg from the evaluation's report.json (Python standard library only).

    python3 eval/report.py target/eval/report.json     # rewrites report.md and metrics.svg beside it
"""

import json
import os
import sys
from xml.sax.saxutils import escape

ORDER = ["random", "popularity", "audio", "embedding", "full", "tuned"]
METRICS = [("ndcg", "NDCG@{k}", "#4c78a8"), ("recall", "Recall@{k}", "#f58518"), ("mrr", "MRR", "#54a24b")]
DESCRIBE = {
    "random": "seeded hash order (SQL)",
    "popularity": "tracks.popularity (SQL)",
    "audio": "score_tracks, audio weight only",
    "embedding": "score_tracks, centroid weight only",
    "full": "score_tracks, default config",
    "tuned": "score_tracks, config chosen on the tune half",
}


def labels(rep):
    return [l for l in ORDER if l in rep["runs"]]


def fmt(x):
    return f"{x:.4f}"


def markdown(rep):
    r = rep["result"]
    k = r["k"]
    s = rep["summary"]
    p = rep["params"]
    out = []
    out.append(f"# songmatch offline evaluation\n")
    out.append(f"Data: `{rep['data']}`; dataset `{r['dataset_hash']}` "
               f"(seed {p['seed']}, holdout {p['holdout']}, {p['negatives']} negatives, playlists with at least "
               f"{p['min_tracks']} tracks).\n")
    out.append(f"{s['playlists']} playlists ({s['tune']} tune / {s['test']} test), {s['profile']} profile tracks, "
               f"{s['heldout']} held out, {s['negative']} negatives. Each playlist's held-out tracks are ranked among "
               f"its negatives from its profile tracks (and its name); bundle `{rep['bundle_hash']}`.\n")
    cv = rep.get("cv")
    if cv:
        out.append(f"\n## Cross-validation by playlist ({cv['folds']} folds)\n")
        out.append(f"The ranker is trained as the shipped one (models/ranker/train.py) on the other folds' playlists "
                   f"only, β is chosen there, and each fold's playlists are ranked as songmatch ranks them "
                   f"(eval/cv.py). Mean of the fold means ± their standard deviation:\n")
        out.append(f"| | NDCG@{k} | sd | per fold |")
        out.append("|---|---:|---:|---|")
        for key, what in (("full", "stage 1 + ranker (β chosen in the training folds)"),
                          ("full_default_beta", "stage 1 + ranker, β 0.8"), ("stage1", "stage 1 alone")):
            m = cv[key]
            out.append(f"| {what} | {fmt(m['ndcg'])} | {fmt(m['ndcg_sd'])} | "
                       f"{', '.join(fmt(x) for x in m['per_fold'])} |")
        out.append("\nChosen in each fold: " + "; ".join(
            f"{c['fold']}: {c['point']['learning_rate']}/{c['point']['num_leaves']}/{c['point']['min_data_in_leaf']}, "
            f"{c['trees']} trees, β {c['beta']}" for c in cv["chosen"]) + "\n")
    for half, title in (("all", "All playlists"), ("tune", "Tune half (where the weights were chosen)"),
                        ("test", "Test half (held out from tuning: the honest figures)")):
        out.append(f"\n## {title}\n")
        out.append(f"| configuration | what | NDCG@{k} | Recall@{k} | MRR | playlists |")
        out.append("|---|---|---:|---:|---:|---:|")
        for l in labels(rep):
            m = rep["runs"][l][half]
            out.append(f"| {l} | {DESCRIBE.get(l, '')} | {fmt(m['ndcg'])} | {fmt(m['recall'])} | {fmt(m['mrr'])} "
                       f"| {m['playlists']} |")
    abl = rep.get("ablation")
    if abl:
        out.append("\n## Ablation (test half)\n")
        out.append(f"Stage 2 of the bundle: `{json.dumps(r.get('stage2'))}`. Each row is one `eval_run` on the test half; "
                   f"the stage-1 rows switch the ranker off (`ranker_weight` 0) and zero one group's weights.\n")
        out.append(f"| configuration | NDCG@{k} | Recall@{k} | MRR |")
        out.append("|---|---:|---:|---:|")
        for x in abl:
            out.append(f"| {x['name']} | {fmt(x['ndcg'])} | {fmt(x['recall'])} | {fmt(x['mrr'])} |")
    t = rep.get("tuning")
    if t and t.get("kind") == "ranker_weight":
        out.append("\n## Tuning\n")
        out.append(f"With a learned ranker the final score is (1 − β)·stage1 + β·σ(ranker); β (`ranker_weight`) was "
                   f"chosen on the tune half with real runs ({t['seconds']} s):\n")
        out.append(f"| ranker_weight | NDCG@{k} (tune) | Recall@{k} | MRR |")
        out.append("|---:|---:|---:|---:|")
        for c in t["confirmed"]:
            out.append(f"| {c['config']['ranker_weight']} | {fmt(c['ndcg'])} | {fmt(c['recall'])} | {fmt(c['mrr'])} |")
        out.append(f"\nChosen config: `{json.dumps(t['chosen'], sort_keys=True)}`\n")
        tt = rep["runs"]["tuned"]
        fu = rep["runs"]["full"]
        out.append(f"Test half: tuned NDCG@{k} {fmt(tt['test']['ndcg'])} vs default {fmt(fu['test']['ndcg'])}; "
                   f"tune half: {fmt(tt['tune']['ndcg'])} vs {fmt(fu['tune']['ndcg'])}.\n")
    elif t:
        out.append("\n## Tuning\n")
        grid = ", ".join(f"{key} ∈ {{{', '.join(str(v) for v in vals)}}}" for key, vals in t["grid"].items())
        out.append(f"Grid on the tune half only ({t['points']} points): {grid}. The per-signal values of score_tracks "
                   f"were collected once per members_top_k and re-weighted (stage 1 = Σ wᵢ·sᵢ / Σ wᵢ); the best "
                   f"{len(t['confirmed'])} were re-run with `songmatch.eval_run(split => 'tune')` and the best of "
                   f"those was chosen. Took {t['seconds']} s.\n")
        ec = t.get("emulation_check") or {}
        if ec.get("emulated") is not None:
            out.append(f"Check of the re-weighting: default config on the tune half, NDCG@{k} "
                       f"{fmt(ec['eval_run_default_tune_ndcg'])} by eval_run vs {fmt(ec['emulated'])} re-weighted "
                       f"(|Δ| {ec['abs_diff']}).\n")
        out.append(f"| rank | members_top_k | members | centroid | query | audio | genre | grid NDCG@{k} | eval_run NDCG@{k} (tune) |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for i, c in enumerate(t["confirmed"]):
            pt = c["point"]
            out.append(f"| {i + 1} | {pt['members_top_k']} | {pt['members']} | {pt['centroid']} | {pt['query']} | "
                       f"{pt['audio']} | {pt['genre']} | {fmt(c['grid_ndcg'])} | {fmt(c['ndcg'])} |")
        out.append(f"\nChosen config: `{json.dumps(t['chosen'], sort_keys=True)}`\n")
        tt = rep["runs"]["tuned"]
        fu = rep["runs"]["full"]
        out.append(f"Test half: tuned NDCG@{k} {fmt(tt['test']['ndcg'])} vs default {fmt(fu['test']['ndcg'])}; "
                   f"tune half: {fmt(tt['tune']['ndcg'])} vs {fmt(fu['tune']['ndcg'])}.\n")
    out.append("\n## Timing\n")
    out.append(f"Embedding every track: {rep.get('embed_seconds')} s; dataset build: {rep['dataset_build_seconds']} s; "
               f"runs: " + ", ".join(f"{l} {rep['runs'][l]['seconds']} s" for l in labels(rep))
               + f"; whole `make eval`: {r['seconds']} s.\n")
    out.append("\n![metrics](metrics.svg)\n")
    return "\n".join(out) + "\n"


def svg(rep):
    """Grouped bars: one group per configuration, NDCG / Recall / MRR on the test half (all
    playlists when there was no tuning)."""
    r = rep["result"]
    k = r["k"]
    half = "test" if rep.get("tuning") else "all"
    ls = labels(rep)
    W, H = 820, 400
    left, right, top, bottom = 60, 20, 50, 60
    pw, ph = W - left - right, H - top - bottom
    gw = pw / max(1, len(ls))
    bw = gw * 0.8 / len(METRICS)
    y = lambda v: top + ph * (1 - max(0.0, min(1.0, v)))
    e = []
    e.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             f'font-family="sans-serif" font-size="12">')
    e.append(f'<rect width="{W}" height="{H}" fill="white"/>')
    n = rep["runs"][ls[0]][half]["playlists"] if ls else 0
    title = f"songmatch offline evaluation, {'test half' if half == 'test' else 'all playlists'} ({n} playlists), K = {k}"
    e.append(f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>')
    for i in range(11):
        v = i / 10
        yy = y(v)
        e.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{W - right}" y2="{yy:.1f}" stroke="#ddd"/>')
        if i % 2 == 0:
            e.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    e.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#333"/>')
    e.append(f'<line x1="{left}" y1="{top + ph}" x2="{W - right}" y2="{top + ph}" stroke="#333"/>')
    for gi, l in enumerate(ls):
        m = rep["runs"][l][half]
        x0 = left + gi * gw + gw * 0.1
        for mi, (key, name, color) in enumerate(METRICS):
            v = m[key]
            x = x0 + mi * bw
            e.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bw - 2:.1f}" height="{top + ph - y(v):.1f}" '
                     f'fill="{color}"><title>{escape(l)} {escape(name.format(k=k))} {v:.4f}</title></rect>')
            e.append(f'<text x="{x + (bw - 2) / 2:.1f}" y="{y(v) - 3:.1f}" text-anchor="middle" font-size="9">{v:.2f}</text>')
        e.append(f'<text x="{left + gi * gw + gw / 2:.1f}" y="{top + ph + 18}" text-anchor="middle">{escape(l)}</text>')
    lx = left + 10
    for key, name, color in METRICS:
        e.append(f'<rect x="{lx}" y="{H - 24}" width="12" height="12" fill="{color}"/>')
        e.append(f'<text x="{lx + 16}" y="{H - 14}">{escape(name.format(k=k))}</text>')
        lx += 110
    e.append("</svg>")
    return "\n".join(e) + "\n"


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "target/eval/report.json"
    with open(path) as f:
        rep = json.load(f)
    d = os.path.dirname(os.path.abspath(path))
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write(markdown(rep))
    with open(os.path.join(d, "metrics.svg"), "w") as f:
        f.write(svg(rep))
