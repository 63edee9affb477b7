"""The stage cache: runs/<kind>/<key>/, complete iff manifest.json exists, written atomically.

Trust, cheap to dear:
  * `done`: manifest.json exists (what planning and the executors' counts use);
  * `check`: the manifest is readable and every output file it lists has the recorded size (run
    before a dependent stage reads a stage's outputs);
  * `check(full=True)`: ... and the recorded sha256 (``flatbench cache verify``).
A manifest written by this version lists its outputs under "files" ({path: {size, sha256}}).
One without "files" was written before hashes were recorded: a *legacy* entry, trusted by
existence as before (never recomputed for that alone); ``cache verify`` checks its structure
(JSON, JSON Lines, zip checkpoints parse) and then records its hashes in the manifest.

A bad entry is moved aside to runs/<kind>/.bad/<key>-<time>-<pid>/ (with why.txt), not deleted,
and the stage is recomputed. Work in progress lives in runs/<kind>/.tmp/<key>-<pid>@<host>-<rand>/
until one rename commits it; `sweep_stale` removes those of processes no longer alive on this
host at the start of a run. Resumable progress of long stages lives in runs/<kind>/.partial/<key>/.

One computation per key, however many processes share the cache: a stage is computed while holding
runs/<kind>/.locks/<key>.lock (`Cache.lock`, an OS file lock: flock), so a second process waits for
it and then reuses the result. The OS releases the lock when its holder dies, however it dies, so a
killed holder's lock is taken over at once (and its .partial progress resumed); the file records
the holder (pid, host, stage) for the waiting message and is removed on a clean release.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
import zipfile
from contextlib import contextmanager
from pathlib import Path

from flatbench.errors import CacheError  # noqa: F401 - re-exported (defined in errors so locks can raise it)
from flatbench.io import write_json, write_text_atomic  # noqa: F401 - the shared atomic writes, re-exported
from flatbench.locks import StageLock, host_tag, notice, pid_alive  # noqa: F401 - re-exported
from flatbench.notices import warn

MANIFEST = "manifest.json"
TMP, PARTIAL, BAD, LOCKS = ".tmp", ".partial", ".bad", ".locks"
_TMP_NAME = re.compile(r"^(?P<key>.+)-(?P<pid>\d+)@(?P<host>[0-9a-f]{6})-[0-9a-f]{6}$")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _outputs(d: Path) -> list[Path]:
    """Every file of a stage directory except its manifest (and stray atomic-write temporaries)."""
    return sorted(p for p in d.rglob("*") if p.is_file() and p.name != MANIFEST
                  and not re.search(r"\.tmp\d+$", p.name))


def file_table(d: Path, fsync: bool = False) -> dict:
    """{relative path: {"size", "sha256"}} of a stage directory's outputs."""
    out = {}
    for p in _outputs(d):
        out[p.relative_to(d).as_posix()] = {"size": p.stat().st_size, "sha256": sha256_file(p)}
        if fsync:
            _fsync(p)
    return out


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def structure_problem(d: Path) -> str | None:
    """For entries without recorded hashes: a JSON file that does not parse, a JSON Lines line that
    does not, or a zip checkpoint (torch.save) whose CRCs fail. None when everything reads."""
    for p in _outputs(d):
        rel = p.relative_to(d).as_posix()
        try:
            if p.suffix == ".json":
                json.loads(p.read_text(encoding="utf-8"))
            elif p.suffix == ".jsonl":
                with open(p, encoding="utf-8") as f:
                    for i, line in enumerate(f, 1):
                        if line.strip():
                            try:
                                json.loads(line)
                            except json.JSONDecodeError:
                                return f"{rel}: line {i} is not JSON (truncated?)"
            elif p.suffix == ".pt":
                if not zipfile.is_zipfile(p):
                    return f"{rel}: not a readable checkpoint (truncated?)"
                with zipfile.ZipFile(p) as z:
                    bad = z.testzip()
                if bad is not None:
                    return f"{rel}: checkpoint member {bad} fails its CRC"
        except (OSError, UnicodeDecodeError, ValueError, zipfile.BadZipFile) as e:
            return f"{rel}: unreadable ({type(e).__name__}: {e})"
    return None


class Cache:
    def __init__(self, root: str | os.PathLike = "runs"):
        self.root = Path(root).resolve()

    def dir(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def done(self, kind: str, key: str) -> bool:
        return (self.dir(kind, key) / MANIFEST).is_file()

    def _rel(self, p: Path) -> str:
        try:
            return str(p.relative_to(self.root.parent))
        except ValueError:
            return str(p)

    def manifest(self, kind: str, key: str) -> dict:
        """The manifest of a complete stage; a CacheError (one line) when it cannot be read."""
        p = self.dir(kind, key) / MANIFEST
        try:
            m = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CacheError(f"{self._rel(p)} does not exist (stage not complete)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CacheError(f"{self._rel(p)} is unreadable ({type(e).__name__}); "
                             "run: flatbench cache verify --repair") from None
        if not isinstance(m, dict) or m.get("kind", kind) != kind or m.get("key", key) != key:
            raise CacheError(f"{self._rel(p)} does not describe {kind}/{key}; run: flatbench cache verify --repair")
        return m

    def load(self, kind: str, key: str, label: str | None = None) -> dict | None:
        """The manifest if the stage is complete and its manifest reads; None if it must be
        (re)computed. An unreadable manifest is reported in one line and its entry moved aside."""
        if not self.done(kind, key):
            return None
        try:
            return self.manifest(kind, key)
        except CacheError as e:
            if not self.done(kind, key):  # removed meanwhile (another process repaired it)
                return None
            self.report_bad(kind, key, str(e).split(";")[0], label)
            return None

    def check(self, kind: str, key: str, full: bool = False, manifest: dict | None = None) -> str | None:
        """What is wrong with a complete stage's outputs, or None. Sizes always; sha256 with `full`.
        Legacy entries (no recorded files): existence only, and their structure with `full`."""
        d = self.dir(kind, key)
        if manifest is None:
            try:
                manifest = self.manifest(kind, key)
            except CacheError as e:
                return str(e).split(";")[0]
        files = manifest.get("files")
        if files is None:
            return structure_problem(d) if full else None
        if not isinstance(files, dict):
            return f"{MANIFEST}: 'files' is not a table"
        for rel, info in files.items():
            p = d / rel
            try:
                size, want = p.stat().st_size, int(info["size"])
            except FileNotFoundError:
                return f"{rel} is missing"
            except (OSError, KeyError, TypeError, ValueError) as e:
                return f"{rel}: cannot be checked ({type(e).__name__})"
            if size != want:
                return f"{rel} is {size} bytes, the manifest says {want}"
            if full:
                try:
                    if sha256_file(p) != info.get("sha256"):
                        return f"{rel}: content differs from the manifest's sha256"
                except OSError as e:
                    return f"{rel}: unreadable ({type(e).__name__})"
        return None

    def record_hashes(self, kind: str, key: str) -> None:
        """Record the outputs' sizes and hashes in a legacy manifest (atomically; the key and every
        other field stay as they are)."""
        d = self.dir(kind, key)
        m = self.manifest(kind, key)
        if "files" in m:
            return
        m["files"] = file_table(d)
        m["files_recorded"] = "by flatbench cache verify, after the fact (legacy manifest)"
        write_json(d / MANIFEST, m)

    def move_aside(self, kind: str, key: str, reason: str) -> Path | None:
        """Move runs/<kind>/<key> to runs/<kind>/.bad/<key>-<time>-<pid>/ (why.txt says why)."""
        src = self.dir(kind, key)
        dest = self.root / kind / BAD / f"{key}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.rename(src, dest)
        except FileNotFoundError:
            return None  # gone already (another process moved it)
        except OSError as e:
            raise CacheError(f"{self._rel(src)} is bad ({reason}) and cannot be moved aside "
                             f"({e.strerror or e})") from None
        try:
            (dest / "why.txt").write_text(reason + "\n")
        except OSError:
            pass
        return dest

    def report_bad(self, kind: str, key: str, problem: str, label: str | None = None) -> Path | None:
        """One warning line, and the entry moved aside so the stage is recomputed."""
        dest = self.move_aside(kind, key, problem)
        where = self._rel(self.dir(kind, key))
        warn(f"{label + ' ' if label else ''}{where}: {problem}; moved to "
             f"{self._rel(dest) if dest else '(already gone)'}; recomputing")
        return dest

    def stages(self):
        """(kind, key) of every entry under the root (complete or not), in a stable order."""
        if not self.root.is_dir():
            return
        for kd in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for d in sorted(p for p in kd.iterdir() if p.is_dir() and not p.name.startswith(".")):
                yield kd.name, d.name

    def verify(self, repair: bool = False, record_legacy: bool = True) -> list[dict]:
        """Check every entry (hashes). Returns one row per entry: kind, key, status (ok, legacy,
        bad, repaired) and problem. Legacy entries that read get their hashes recorded; with
        `repair`, bad entries are moved aside (the next run recomputes them)."""
        rows = []
        for kind, key in self.stages():
            row = {"kind": kind, "key": key, "status": "ok", "problem": ""}
            if not self.done(kind, key):
                problem = f"no {MANIFEST} (incomplete)"
            else:
                try:
                    m = self.manifest(kind, key)
                except CacheError as e:
                    m, problem = None, str(e).split(";")[0]
                else:
                    problem = self.check(kind, key, full=True, manifest=m)
                if m is not None and problem is None and "files" not in m:
                    row["status"] = "legacy"
                    if record_legacy:
                        try:
                            self.record_hashes(kind, key)
                        except (OSError, CacheError) as e:
                            row["problem"] = f"hashes not recorded ({type(e).__name__})"
            if problem:
                row["problem"] = problem
                row["status"] = "bad"
                if repair:
                    dest = self.move_aside(kind, key, problem)
                    row["status"], row["moved_to"] = "repaired", str(dest) if dest else ""
            rows.append(row)
        return rows

    def compare(self, other: "Cache") -> list[dict]:
        """Every complete stage of this cache or ``other``, matched by (kind, key): status
        "identical" (the same files with the same size and sha256, as each manifest records them),
        "differs" (``files``: the outputs that differ or exist on one side only), "only_here" or
        "only_there". Same key, same inputs: a stage computed twice must give the same bytes."""
        def tables(cache):
            out = {}
            for kind, key in cache.stages():
                if cache.done(kind, key):
                    try:
                        m = cache.manifest(kind, key)
                    except CacheError:
                        continue
                    out[(kind, key)] = m.get("files") or file_table(cache.dir(kind, key))
            return out

        mine, theirs = tables(self), tables(other)
        rows = []
        for kind, key in sorted(set(mine) | set(theirs)):
            a, b = mine.get((kind, key)), theirs.get((kind, key))
            row = {"kind": kind, "key": key}
            if a is None or b is None:
                row["status"] = "only_there" if a is None else "only_here"
            else:
                files = sorted(f for f in set(a) | set(b)
                               if (a.get(f) or {}).get("sha256") != (b.get(f) or {}).get("sha256"))
                row["status"], row["files"] = ("differs" if files else "identical"), files
            rows.append(row)
        return rows

    # -- writing -----------------------------------------------------------------------------

    def _mkdir(self, path: Path) -> Path:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            where = "" if path == self.root else f": {path}"
            raise CacheError(f"runs dir {self.root} cannot be written{where} ({e.strerror or e}); "
                             "pass --runs-dir DIR") from None
        return path

    def ensure_writable(self) -> None:
        """Create the root if needed and prove a file can be written there (one-line error if not)."""
        if self.root.exists() and not self.root.is_dir():
            raise CacheError(f"runs dir {self.root} is not a directory; pass --runs-dir DIR")
        self._mkdir(self.root)
        try:
            fd, p = tempfile.mkstemp(prefix=".write-test-", dir=self.root)
            os.close(fd)
            os.unlink(p)
        except OSError as e:
            raise CacheError(f"runs dir {self.root} cannot be written ({e.strerror or e}); "
                             "pass --runs-dir DIR") from None

    def sweep_stale(self) -> int:
        """Remove runs/<kind>/.tmp/* of processes that are no longer alive on this host (directories
        of live processes, of other hosts, and without a pid in their name are left alone), and the
        partial progress of stages already committed (a kill between the commit and its clean-up).
        Returns how many temporary directories were removed."""
        n, me = 0, host_tag()
        if not self.root.is_dir():
            return 0
        for kd in self.root.iterdir():
            tmpd = kd / TMP
            if tmpd.is_dir():
                for t in tmpd.iterdir():
                    m = _TMP_NAME.match(t.name)
                    if m and m["host"] == me and not pid_alive(int(m["pid"])):
                        shutil.rmtree(t, ignore_errors=True)
                        n += not t.exists()
            partial = kd / PARTIAL
            if partial.is_dir():
                for p in partial.iterdir():
                    if (kd / p.name / MANIFEST).is_file():
                        shutil.rmtree(p, ignore_errors=True)
        return n

    # -- one computation per key --------------------------------------------------------------

    def lock_path(self, kind: str, key: str) -> Path:
        return self.root / kind / LOCKS / f"{key}.lock"

    @contextmanager
    def lock(self, kind: str, key: str, label: str | None = None, notice_every: float = 300.0,
             poll: float = 0.5):
        """Hold the lock of one stage key while computing it (blocking until no other process holds
        it). Yields a `StageLock`: `waited_for` is the holder we waited for (pid, host, label, since;
        None if we did not wait), `took_over` the holder that died holding it (its lock file was
        left behind; the OS released its lock). While waiting, one line names the holder, and one
        line every `notice_every` seconds says it is still running. Works across processes and
        threads (a flock belongs to one open of the file), not re-entrantly for the same key."""
        path = self.lock_path(kind, key)
        self._mkdir(path.parent)
        held = StageLock(path, label or f"{kind}/{key}")
        held.acquire(notice_every, poll)
        try:
            yield held
        finally:
            held.release()

    def partial_dir(self, kind: str, key: str) -> Path:
        """Where a long stage may keep resumable progress (survives a kill; not a result)."""
        return self._mkdir(self.root / kind / PARTIAL / key)

    @contextmanager
    def writing(self, kind: str, key: str):
        """Yield a temporary directory; on success it becomes runs/<kind>/<key> in one rename,
        its manifest extended with the size and sha256 of every output file."""
        parent = self._mkdir(self.root / kind / TMP)
        tmp = parent / f"{key}-{os.getpid()}@{host_tag()}-{uuid.uuid4().hex[:6]}"
        try:
            tmp.mkdir()
        except OSError as e:
            raise CacheError(f"runs dir {self.root} cannot be written: {tmp} ({e.strerror or e})") from None
        try:
            yield tmp
            if not (tmp / MANIFEST).is_file():
                raise RuntimeError("stage finished without writing its manifest")
            m = json.loads((tmp / MANIFEST).read_text(encoding="utf-8"))
            m["files"] = file_table(tmp, fsync=True)
            write_json(tmp / MANIFEST, m)
            _fsync(tmp)
            final = self.dir(kind, key)
            try:
                os.rename(tmp, final)
            except OSError:
                if not (final / MANIFEST).is_file():  # an incomplete dir stands there: move it aside
                    self.move_aside(kind, key, f"incomplete (no {MANIFEST}) where a result was committed")
                    os.rename(tmp, final)
                # else another process committed the same stage first: theirs stays
            _fsync(final.parent)
            shutil.rmtree(self.root / kind / PARTIAL / key, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def write_manifest(d: Path, kind: str, key: str, spec: dict, metrics: dict, deviations: list[str],
                   seconds: float, extra: dict | None = None) -> None:
    write_json(d / MANIFEST, {"kind": kind, "key": key, "spec": spec, "metrics": metrics,
                              "deviations": sorted(set(deviations)), "seconds": round(seconds, 3),
                              "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), **(extra or {})})
