"""Unit tests of eval/cv.py's protocol: folds, what a fold trains on, and the leakage guards of
the co-occurrence evidence (run by `make test`'s tools tier in target/venv-ranker)."""

import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cv  # noqa: E402


def group(pid, members, heldout, negatives):
    tids = sorted(heldout + negatives)
    return {"pid": pid, "members": list(members), "tids": np.array(tids, dtype=np.int64),
            "y": np.array([1 if t in heldout else 0 for t in tids], dtype=np.int32),
            "X": np.zeros((len(tids), 2), dtype=np.float32), "s1": np.zeros(len(tids)), "extra": []}


class Folds(unittest.TestCase):
    def test_every_playlist_in_exactly_one_fold_of_near_equal_size(self):
        ps = list(range(100, 388))
        f = cv.fold_of(42, ps, 5)
        self.assertEqual(set(f), set(ps))
        sizes = [sum(1 for p in ps if f[p] == i) for i in range(5)]
        self.assertEqual(sum(sizes), 288)
        self.assertLessEqual(max(sizes) - min(sizes), 1)
        self.assertEqual(f, cv.fold_of(42, list(reversed(ps)), 5), "the folds do not depend on the input order")
        self.assertNotEqual(f, cv.fold_of(43, ps, 5), "the seed draws the folds")

    def test_a_fold_never_trains_on_its_own_playlists_in_any_dataset(self):
        data = [[group(p, [1], [10 + p], [20 + p]) for p in (1, 2, 3, 4)] for _ in range(3)]
        for gs in data:
            for g in gs:
                g["Xf"] = g["X"]
        fold = {1: 0, 2: 1, 3: 0, 4: 1}
        tg = cv.training_groups(data, fold, 0)
        self.assertEqual(sorted({t[1] for t in tg}), [2, 4])
        self.assertEqual(sorted({t[0] for t in tg}), [0, 1, 2], "every dataset contributes")
        self.assertEqual(len(tg), 6)


class Leakage(unittest.TestCase):
    # playlist 1 is in the dataset: members 1, 2; track 10 held out; 20 a negative.
    # playlist 2 is in the dataset too: member 2, held out 11.  Playlists 3 and 4 are not.
    PAIRS = [(1, 1), (1, 2), (1, 10), (2, 2), (2, 11), (3, 10), (3, 2), (3, 11), (4, 20), (4, 30)]
    ITEMS = [(1, 1, "profile"), (1, 2, "profile"), (1, 10, "heldout"), (1, 20, "negative"),
             (2, 2, "profile"), (2, 11, "heldout"), (2, 30, "negative")]

    def test_held_out_tracks_are_nobodys_members(self):
        m = cv.evaluation_membership(self.PAIRS, self.ITEMS)
        self.assertEqual(m[1], {1, 2})
        self.assertEqual(m[2], {2})
        self.assertEqual(m[3], {10, 2, 11}, "a playlist outside the dataset keeps all of its tracks")
        self.assertEqual(m[4], {20, 30})
        held = {(p, t) for p, t, r in self.ITEMS if r == "heldout"}
        self.assertFalse({(p, t) for p, ts in m.items() for t in ts} & held)

    def test_cooc_counts_other_playlists_only(self):
        m = cv.evaluation_membership(self.PAIRS, self.ITEMS)
        g = group(1, [1, 2], [10], [20])
        names = cv.cooc_features([g], m)
        f = dict(zip([int(t) for t in g["tids"]], g["extra"][0]))
        self.assertEqual(names, ["cooc_playlists", "cooc_members"])
        # 10: playlist 3 holds it and member 2 -> one playlist, one member of two
        self.assertAlmostEqual(float(f[10][0]), np.log1p(1), places=6)
        self.assertAlmostEqual(float(f[10][1]), 0.5, places=6)
        # 20: playlist 4 holds it but no member
        self.assertEqual([float(x) for x in f[20]], [0.0, 0.0])

    def test_a_held_out_track_is_not_evidence_through_its_own_playlist(self):
        # without playlist 3, track 10 was only ever in playlist 1, where it is held out
        pairs = [x for x in self.PAIRS if x[0] != 3]
        g = group(1, [1, 2], [10], [20])
        cv.cooc_features([g], cv.evaluation_membership(pairs, self.ITEMS))
        f = dict(zip([int(t) for t in g["tids"]], g["extra"][0]))
        self.assertEqual([float(x) for x in f[10]], [0.0, 0.0])

    def test_a_leaked_membership_is_refused(self):
        leaked = {1: {1, 2, 10}, 3: {10, 2}}
        with self.assertRaisesRegex(RuntimeError, "held-out tracks among its own members"):
            cv.cooc_features([group(1, [1, 2], [10], [20])], leaked)

    def test_the_candidates_own_count_of_playlists_is_not_a_feature(self):
        # the leak this protocol invites: every negative comes from a playlist, a held-out track
        # often from none but its own. No feature may depend on that count alone.
        m = cv.evaluation_membership([(1, 1), (1, 2), (1, 10), (4, 20), (5, 20), (6, 20)], self.ITEMS)
        g = group(1, [1, 2], [10], [20])
        cv.cooc_features([g], m)
        f = dict(zip([int(t) for t in g["tids"]], g["extra"][0]))
        self.assertEqual([float(x) for x in f[20]], [float(x) for x in f[10]])


class Ranking(unittest.TestCase):
    def test_ties_by_track_id_as_the_database(self):
        y = np.array([0, 1], dtype=np.int32)
        self.assertEqual(cv.ndcg_by_id([0.5, 0.5], y, [1, 2], 1), 0.0)
        self.assertEqual(cv.ndcg_by_id([0.5, 0.5], y, [3, 2], 1), 1.0)


if __name__ == "__main__":
    unittest.main()
