#!/usr/bin/env python3
"""Write N deterministic song-description-like texts (about 16 tokens each), one per line.

    python bench/texts.py --n 512 --seed 20240615 --out target/bench/texts.txt
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

MOODS = ["melancholic", "upbeat", "dreamy", "dark", "brooding", "joyful", "wistful", "gritty",
         "mellow", "euphoric", "haunting", "playful", "tender", "angry", "hypnotic", "nostalgic"]
GENRES = ["acoustic ballad", "synth pop track", "techno cut", "hip hop beat", "jazz standard",
          "punk anthem", "piano piece", "country song", "indie rock song", "soul groove",
          "folk tune", "disco number", "ambient drone", "blues shuffle", "reggae jam", "metal riff"]
WITHS = ["brushed drums", "a rolling bass line", "bright female vocals", "fuzzy guitars",
         "warm strings", "a muted trumpet", "vinyl crackle", "hand claps", "a choir",
         "analog synths", "a slide guitar", "soft harmonies", "a drum machine", "a fiddle"]
ABOUTS = ["leaving home", "a summer romance", "driving at night", "a broken heart", "the open sea",
          "city lights", "an old friend", "rainy mornings", "dancing until dawn", "growing up",
          "a lost dog", "the last train", "winter in the mountains", "falling in love again"]
TEMPOS = ["slow", "fast", "mid-tempo", "laid back", "driving", "swinging"]
SHAPES = [
    "A {mood} {genre} with {w1} about {about}, {tempo}",
    "{Mood} {genre} with {w1} and {w2}, {tempo}",
    "A {mood} {genre} about {about}, with {w1} and {w2}",
    "{Mood}, {tempo} {genre} featuring {w1}, perfect for {about}",
]


def generate(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        mood = rng.choice(MOODS)
        w1, w2 = rng.sample(WITHS, 2)
        t = rng.choice(SHAPES).format(mood=mood, Mood=mood.capitalize(), genre=rng.choice(GENRES),
                                      w1=w1, w2=w2, about=rng.choice(ABOUTS),
                                      tempo=rng.choice(TEMPOS))
        if t not in seen:  # distinct texts: nothing can be answered from a cache
            seen.add(t)
            out.append(t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--seed", type=int, default=20240615)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(t + "\n" for t in generate(args.n, args.seed)), encoding="utf-8")


if __name__ == "__main__":
    main()
