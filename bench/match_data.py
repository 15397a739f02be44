"""Deterministic, song-like data for the end-to-end matching bench (bench/match_bench.py).

One user with `n_playlists` themed playlists (name, description, analysis) of `members` tracks
each, and `n_liked` liked tracks drawn from the same themes (plus a few that fit none), every
track with a name, an artist, an album and an analysis (summary, moods, themes, genres,
language, audio features) in the shape of the demo catalogue. All of it is FICTIONAL and
generated from word lists; the same seed gives the same data.
"""

from __future__ import annotations

import random

# (playlist name, description, primary genre, secondary genres, moods, themes, instruments,
#  audio centre: danceability, energy, valence, acousticness, instrumentalness, tempo, loudness)
THEMES = [
    ("Rainy Day Acoustic", "Soft guitars and quiet voices for grey afternoons and a pot of tea.",
     "indie folk", ["acoustic", "singer-songwriter"], ["melancholic", "calm", "wistful"],
     ["rain", "home", "memories"], ["fingerpicked guitar", "cello", "a hushed voice"],
     (0.42, 0.25, 0.3, 0.85, 0.05, 82, -11)),
    ("Gym Power Hour", "Max-effort bangers for lifting, sprinting and the last rep.",
     "edm", ["trap", "hard rock"], ["energetic", "aggressive", "hype"],
     ["strength", "motivation", "competition"], ["a distorted bass drop", "shouted hooks", "pounding drums"],
     (0.7, 0.93, 0.55, 0.03, 0.1, 140, -4)),
    ("Late Night Lo-fi", "Dusty beats and mellow keys for studying at 2 a.m.",
     "lo-fi hip hop", ["chillhop", "jazz hop"], ["mellow", "dreamy", "calm"],
     ["night", "study", "city lights"], ["a dusty drum loop", "electric piano", "vinyl crackle"],
     (0.65, 0.35, 0.45, 0.6, 0.8, 84, -12)),
    ("Sunday Brunch Jazz", "Easy-swinging piano trios and a little bossa nova.",
     "jazz", ["bossa nova", "swing"], ["relaxed", "warm", "playful"],
     ["morning", "coffee", "friends"], ["a piano trio", "brushed drums", "an upright bass"],
     (0.55, 0.35, 0.65, 0.75, 0.6, 118, -13)),
    ("Road Trip Anthems", "Windows down, singalong choruses and open highways.",
     "rock", ["pop rock", "heartland rock"], ["euphoric", "nostalgic", "free"],
     ["driving", "summer", "freedom"], ["jangling guitars", "a big chorus", "handclaps"],
     (0.58, 0.8, 0.75, 0.15, 0.02, 128, -6)),
    ("Heartbreak Hotel", "Torch songs and slow ballads for the morning after.",
     "soul", ["r&b", "ballad"], ["sad", "tender", "longing"],
     ["a broken heart", "loss", "regret"], ["a string section", "a lonely saxophone", "a soaring voice"],
     (0.45, 0.4, 0.2, 0.5, 0.01, 72, -9)),
    ("Dancefloor Disco", "Four-on-the-floor grooves, glitter and a bassline you can't sit still to.",
     "disco", ["funk", "nu-disco"], ["joyful", "groovy", "flirty"],
     ["dancing", "nightlife", "romance"], ["a slap bass", "strings stabs", "a falsetto chorus"],
     (0.85, 0.78, 0.88, 0.08, 0.1, 120, -6)),
    ("Ambient Focus", "Slow-moving textures and drones for deep work.",
     "ambient", ["drone", "modern classical"], ["serene", "hypnotic", "spacious"],
     ["focus", "the ocean", "stillness"], ["analog synth pads", "a felt piano", "field recordings"],
     (0.2, 0.15, 0.3, 0.7, 0.92, 66, -20)),
]
ADJ = ["Paper", "Silver", "Broken", "Golden", "Quiet", "Electric", "Velvet", "Hollow", "Crimson",
       "Midnight", "Neon", "Salt", "Copper", "Glass", "Wild", "Lonely", "Endless", "Faded", "Northern",
       "Burning", "Secret", "Sunday", "Slow", "Heavy", "Little", "Distant", "Tender", "Restless"]
NOUN = ["Boats", "Lanterns", "Highway", "Heartbeat", "Windows", "Rivers", "Engines", "Echoes", "Streetlights",
        "Harbour", "Satellites", "Summer", "Letters", "Mirrors", "Horizon", "Orchard", "Static", "Tides",
        "Wolves", "Radio", "Kingdom", "Postcards", "Thunder", "Fireflies", "Compass", "Garden", "Signals"]
FIRST = ["Maren", "Tobias", "Ingrid", "Felix", "Clara", "Juniper", "Wren", "Otto", "Sunniva", "Ravi",
         "Lena", "Marcus", "Noor", "Elio", "Hana", "Dario", "Ada", "Kofi", "Mila", "Soren"]
LAST = ["Oakhollow", "Fenwright", "Sallow", "Marrowby", "Wendeburg", "Vane", "Halloway", "Brask",
        "Rook", "Delacroix", "Kettleman", "Stone", "Osaragi", "Farrow", "Quell", "Lindqvist"]
VERBS = ["remembers", "chases", "mourns", "celebrates", "drifts through", "waits for", "dreams of",
         "runs from", "sings about", "dances around"]


def _title(rng: random.Random) -> str:
    shape = rng.randrange(4)
    a, n = rng.choice(ADJ), rng.choice(NOUN)
    if shape == 0:
        return f"{a} {n}"
    if shape == 1:
        return f"The {a} {n}"
    if shape == 2:
        return f"{n} of {rng.choice(NOUN)}"
    return f"{a} {n} ({rng.choice(['Reprise', 'Live', 'Acoustic', 'Night Version', 'Radio Edit'])})"


def _artist(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return f"The {rng.choice(ADJ)} {rng.choice(NOUN)}"


def _clip(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return max(lo, min(hi, x))


def _track(rng: random.Random, theme, serial: int) -> dict:
    _, _, genre, sec, moods, themes, instr, (d, e, v, ac, ins, tempo, loud) = theme
    m = rng.sample(moods, 2)
    th = rng.sample(themes, 2)
    summary = (f"A {m[0]} {genre} song with {rng.choice(instr)} and {rng.choice(instr)}; "
               f"the singer {rng.choice(VERBS)} {th[0]} and {th[1]}.")
    audio = {
        "danceability": round(_clip(rng.gauss(d, 0.08)), 3), "energy": round(_clip(rng.gauss(e, 0.08)), 3),
        "valence": round(_clip(rng.gauss(v, 0.1)), 3), "acousticness": round(_clip(rng.gauss(ac, 0.1)), 3),
        "instrumentalness": round(_clip(rng.gauss(ins, 0.08)), 3),
        "speechiness": round(_clip(rng.gauss(0.05, 0.02)), 3), "liveness": round(_clip(rng.gauss(0.12, 0.05)), 3),
        "tempo": round(rng.gauss(tempo, 8), 1), "loudness": round(rng.gauss(loud, 2), 1),
        "key": rng.randrange(12), "mode": rng.randrange(2),
    }
    return {
        "external_id": f"bench:e2e:t{serial:05d}",
        "name": _title(rng), "artist": _artist(rng), "album": f"{rng.choice(ADJ)} {rng.choice(NOUN)}",
        "release_date": f"{rng.randrange(1995, 2025)}", "popularity": rng.randrange(5, 90),
        "duration_ms": rng.randrange(120_000, 330_000),
        "analysis": {"summary": summary, "moods": m, "themes": th,
                     "genres": {"primary": genre, "secondary": rng.sample(sec, 1)},
                     "language": "zxx" if ins > 0.7 else "en", "audio": audio},
    }


def generate(n_playlists: int = 8, members: int = 15, n_liked: int = 200, seed: int = 20240615) -> dict:
    """{"playlists": [{name, description, analysis, members: [track]}], "liked": [track]}."""
    rng = random.Random(seed)
    serial = 0
    playlists = []
    for i in range(n_playlists):
        theme = THEMES[i % len(THEMES)]
        name, desc, genre, sec, moods, themes, _, _ = theme
        tracks = []
        for _ in range(members):
            serial += 1
            tracks.append(_track(rng, theme, serial))
        playlists.append({
            "external_id": f"bench:e2e:p{i + 1}", "name": name if i < len(THEMES) else f"{name} {i + 1}",
            "description": desc,
            "analysis": {"summary": desc, "moods": moods, "themes": themes,
                         "genres": {"primary": genre, "secondary": sec}},
            "members": tracks,
        })
    liked = []
    for _ in range(n_liked):
        serial += 1
        liked.append(_track(rng, rng.choice(THEMES), serial))
    return {"playlists": playlists, "liked": liked}
