#!/usr/bin/env python3
"""The ranking-quality floor of `make test` (eval/floor.sh).

  floor.py subset --data DEV.csv.gz --spec eval/floor.json --out target/eval-floor/subset.csv.gz
      writes the pinned subset: the playlists with at least `min_tracks` distinct tracks, ordered by
      sha256("<seed>:<playlist_id>"), the first `playlists` of them, every row of theirs in file
      order; fails when the subset's sha256 is not the one recorded (the data file changed).
  floor.py check --spec eval/floor.json --report target/eval-floor/report.json
      compares make eval's JSON report with the recorded figure: full NDCG@k may be at most
      `tolerance` below it, and full must beat stage 1 alone (on the same half of the playlists).
  floor.py record ...: prints the spec with the report's figure and the subset's hash (to record a
      deliberate change of the ranking, in the same commit).
"""
import argparse
import csv
import gzip
import hashlib
import io
import json
import sys


def subset_bytes(data: str, spec: dict) -> bytes:
    with gzip.open(data, "rt", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    pid_col, tid_col = header.index("playlist_id"), header.index("track_id")
    tracks: dict[str, set] = {}
    for r in body:
        tracks.setdefault(r[pid_col], set()).add(r[tid_col])
    eligible = [p for p, t in tracks.items() if len(t) >= spec["min_tracks"]]
    eligible.sort(key=lambda p: hashlib.sha256(f"{spec['seed']}:{p}".encode()).hexdigest())
    chosen = set(eligible[: spec["playlists"]])
    if len(chosen) < spec["playlists"]:
        sys.exit(f"floor: only {len(chosen)} playlists with >= {spec['min_tracks']} tracks in {data}")
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for r in body:
        if r[pid_col] in chosen:
            w.writerow(r)
    return out.getvalue().encode("utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["subset", "check", "record"])
    ap.add_argument("--data")
    ap.add_argument("--spec", required=True)
    ap.add_argument("--out")
    ap.add_argument("--report")
    a = ap.parse_args()
    spec = json.load(open(a.spec))
    if a.command == "subset":
        b = subset_bytes(a.data, spec)
        h = hashlib.sha256(b).hexdigest()
        if spec.get("subset_sha256") and h != spec["subset_sha256"]:
            sys.exit(f"floor: the subset of {a.data} has sha256 {h}, not the recorded {spec['subset_sha256']}: "
                     "the data file is not the one the floor was recorded on")
        with gzip.GzipFile(a.out, "wb", mtime=0) as f:
            f.write(b)
        print(h)
        return
    report = json.load(open(a.report))
    report = report.get("result", report)
    full = report["full"]["ndcg"]
    # (full against stage 1 alone on the same playlists: the ablation's half)
    full_half = report["ablation"]["full"]["ndcg"]
    stage1 = report["ablation"]["stage 1 only (no ranker)"]["ndcg"]
    if a.command == "record":
        spec["ndcg"] = round(full, 4)
        print(json.dumps(spec, indent=2))
        return
    floor = spec["ndcg"] - spec["tolerance"]
    print(f"quality floor: full NDCG@{report['k']} {full:.4f} (recorded {spec['ndcg']:.4f}, floor {floor:.4f}); "
          f"on the ablation's half full {full_half:.4f}, stage 1 alone {stage1:.4f}; {report['playlists']} playlists")
    bad = []
    if full < floor:
        bad.append(f"full NDCG@{report['k']} {full:.4f} is below the floor {floor:.4f} "
                   f"(recorded {spec['ndcg']:.4f} - {spec['tolerance']})")
    if not full_half > stage1:
        bad.append(f"full {full_half:.4f} does not beat stage 1 alone {stage1:.4f} (the ablation's half)")
    if report["playlists"] != spec["playlists"]:
        bad.append(f"{report['playlists']} playlists evaluated, not {spec['playlists']}")
    if bad:
        sys.exit("quality floor FAILED: " + "; ".join(bad))


if __name__ == "__main__":
    main()
