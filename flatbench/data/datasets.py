"""Datasets of the paper's Table 1, from a local JSON Lines directory or the Hugging Face hub.

Resolution order for the local directory (first hit wins; see README "Data"):
  1. ``--data-dir`` on the CLI (``data_dir=`` in the API)
  2. ``$FLATBENCH_DATA_DIR``
  3. the first of ``./data``, ``../shared/data``, ``<repo>/../shared/data`` that holds dataset folders
  4. the Hugging Face hub (``datasets``), when reachable.
Either source gives the same splits: SST2's official dev, and for TREC/IMDB/AG the seeded
hold-out ``random.Random(2022).shuffle(range(N))[:n_dev]`` of the training file (this is how
``dev_split.json`` was made; the hub route recomputes it).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import random
import zlib
from pathlib import Path

import numpy as np

from flatbench.errors import DataError, ResourceMissingError
from flatbench.offline import hf_datasets_offline
from flatbench.registry import DATASETS as REGISTERED
from flatbench.registry import DatasetSpec

REPO_ROOT = Path(__file__).resolve().parents[2]


# The datasets are registered in flatbench.registry (name, paper spelling, folder, hub route,
# max_len, Table 1 statistics, attack_train_n); the loaders below read those specs.
DatasetInfo = DatasetSpec
DATASETS: dict[str, DatasetSpec] = REGISTERED.specs()


def dataset_info(name: str) -> DatasetSpec:
    return REGISTERED.spec(name)


@dataclasses.dataclass
class Split:
    texts: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx) -> "Split":
        idx = list(idx)
        return Split([self.texts[i] for i in idx], self.labels[idx])


@dataclasses.dataclass
class Dataset:
    name: str
    label_names: list[str]
    train: Split
    dev: Split
    test: Split
    source: str  # "local:<dir>" or "hub:<id>"
    deviations: list[str]

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    def stats(self) -> dict:
        """Our statistics next to the paper's Table 1 row."""
        from flatbench.data.text import tokenize

        sample = self.train.texts
        avg = float(np.mean([len(tokenize(t)) for t in sample])) if sample else 0.0
        return dict(classes=self.n_classes, avg_len=round(avg, 1), train=len(self.train),
                    dev=len(self.dev), test=len(self.test))

    def fingerprint(self) -> str:
        """Content hash, so cached stages notice when the data under them changes."""
        import hashlib

        h = hashlib.sha256()
        for split in (self.train, self.dev, self.test):
            h.update(str(len(split)).encode())
            for t, y in zip(split.texts, split.labels):
                h.update(t.encode())
                h.update(b"\x00%d\n" % int(y))
        return h.hexdigest()[:16]


def _candidate_dirs() -> list[Path]:
    cwd = Path.cwd()
    return [cwd / "data", cwd.parent / "shared" / "data", cwd / "../shared/data",
            REPO_ROOT.parent / "shared" / "data"]


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The local data directory to use, or None for the hub (see module docstring)."""
    if data_dir is not None:
        p = Path(data_dir)
        if not p.is_dir():
            raise DataError(f"data directory {p} does not exist")
        return p.resolve()
    env = os.environ.get("FLATBENCH_DATA_DIR")
    if env:
        p = Path(env)
        if not p.is_dir():
            raise DataError(f"FLATBENCH_DATA_DIR={env} is not a directory")
        return p.resolve()
    for p in _candidate_dirs():
        if p.is_dir() and any((p / d.folder).is_dir() for d in REGISTERED.specs().values()):
            return p.resolve()
    return None


def _open(path: Path):
    """Binary: lines are decoded one by one, so a bad byte is reported with its line number."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _read_json_file(path: Path, what: str):
    """A small JSON file (labels.json, dev_split.json), or a one-line DataError naming the problem."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 (byte {e.start}); expected {what}") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not JSON ({e.msg} at line {e.lineno}); expected {what}") from None


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_jsonl(path: Path, n_classes: int) -> Split:
    texts, labels = [], []
    try:
        with _open(path) as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise DataError(f"{path}:{lineno}: not UTF-8 (byte {e.start} of the line); "
                                    "data files are UTF-8 JSON Lines") from None
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    text, label = rec["text"], rec["label"]
                except (json.JSONDecodeError, KeyError, TypeError, IndexError) as e:
                    raise DataError(f"{path}:{lineno}: malformed record ({type(e).__name__}: {e}); "
                                    'expected {"text": str, "label": int}') from None
                _check_record(path, lineno, text, label, n_classes)
                texts.append(text)
                labels.append(label)
    except (OSError, EOFError, zlib.error) as e:  # unreadable, or a truncated/corrupt .gz
        raise DataError(f"{path}: cannot be read ({type(e).__name__}: {getattr(e, 'strerror', None) or e})") from None
    if not texts:
        raise DataError(f"{path}: empty split (no records)")
    return Split(texts, np.asarray(labels, dtype=np.int64))


def _check_record(path, lineno, text, label, n_classes) -> None:
    if not isinstance(text, str) or isinstance(label, bool) or not isinstance(label, int):
        raise DataError(f"{path}:{lineno}: text must be a string and label an integer "
                        f"(got {type(text).__name__} and {type(label).__name__})")
    if not 0 <= label < n_classes:
        raise DataError(f"{path}:{lineno}: label {label} is not in labels.json (0..{n_classes - 1})")


def seeded_dev_indices(n_rows: int, n_dev: int, seed: int = 2022) -> list[int]:
    """The hold-out used for datasets without an official dev set (matches dev_split.json)."""
    idx = list(range(n_rows))
    random.Random(seed).shuffle(idx)
    return sorted(idx[:n_dev])


def _split_off(train: Split, dev_idx: list[int]) -> tuple[Split, Split]:
    dev_set = set(dev_idx)
    keep = [i for i in range(len(train)) if i not in dev_set]
    return train.subset(keep), train.subset(dev_idx)


def _load_local(info: DatasetInfo, root: Path) -> Dataset:
    folder = root / info.folder
    if not folder.is_dir():
        raise DataError(f"dataset {info.name!r}: no folder {folder}")
    labels_file = folder / "labels.json"
    if not labels_file.is_file():
        raise DataError(f"dataset {info.name!r}: no labels.json in {folder}")
    label_map = _read_json_file(labels_file, 'a label map {"0": name, "1": name, ...}')
    try:
        label_names = [str(label_map[str(i)]) for i in range(len(label_map))]
    except (KeyError, TypeError) as e:
        raise DataError(f"{labels_file}: unreadable label map ({type(e).__name__}: {e}); "
                        'expected {"0": name, "1": name, ...}') from None
    if not isinstance(label_map, dict) or len(label_names) < 2:
        raise DataError(f"{labels_file}: a label map needs at least 2 labels "
                        '{"0": name, "1": name, ...}')
    n = len(label_names)
    paths = {s: _find(folder, s) for s in ("train", "dev", "test")}
    for s in ("train", "test"):
        if paths[s] is None:
            raise DataError(f"dataset {info.name!r}: no {s}.jsonl(.gz) in {folder}")
    train = read_jsonl(paths["train"], n)
    test = read_jsonl(paths["test"], n)
    deviations = []
    if paths["dev"] is not None:
        dev = read_jsonl(paths["dev"], n)
    else:
        split_file = folder / "dev_split.json"
        if not split_file.is_file():
            raise DataError(f"dataset {info.name!r}: neither dev.jsonl nor dev_split.json in {folder}")
        spec = _read_json_file(split_file, '{"dev_indices": [int, ...], "n_train_rows": int}')
        idx = spec.get("dev_indices") if isinstance(spec, dict) else None
        if not isinstance(idx, list) or not idx or \
                not all(isinstance(i, int) and not isinstance(i, bool) for i in idx):
            raise DataError(f"{split_file}: 'dev_indices' must be a non-empty list of integers")
        if spec.get("n_train_rows", len(train)) != len(train):
            raise DataError(f"{split_file}: made for {spec['n_train_rows']} training rows, found {len(train)}")
        bad = [i for i in idx if not 0 <= i < len(train)]
        if bad:
            raise DataError(f"{split_file}: dev index {bad[0]} outside the training file")
        if len(set(idx)) >= len(train):
            raise DataError(f"{split_file}: the dev split takes every training row")
        train, dev = _split_off(train, idx)
        deviations.append(f"{info.name}: dev set is a seeded hold-out of train (seed {info.dev_seed}, "
                          f"{len(dev)} rows), not the authors' unpublished split")
    p = info.paper
    if len(train) < 0.5 * p["train"]:
        deviations.append(f"{info.name}: training set is a subset ({len(train)} of the paper's "
                          f"{p['train']} rows)")
    return Dataset(info.name, label_names, train, dev, test, f"local:{folder}", deviations)


def _load_hub(info: DatasetInfo) -> Dataset:
    if hf_datasets_offline():
        raise ResourceMissingError(
            f"dataset {info.name!r}: no local data directory and the hub is offline "
            f"(HF_HUB_OFFLINE=1); pass --data-dir DIR or set FLATBENCH_DATA_DIR")
    try:
        import datasets as hf
        ds = hf.load_dataset(info.hub_id)
    except Exception as e:  # network errors come in many types
        raise ResourceMissingError(
            f"dataset {info.name!r}: no local data directory and the hub ({info.hub_id}) could not be "
            f"reached ({type(e).__name__}); pass --data-dir DIR or set FLATBENCH_DATA_DIR") from None
    feat = ds["train"].features[info.hub_label]
    hub_names = list(getattr(feat, "names", []) or [])
    label_names = sorted(hub_names) if info.name == "trec" else hub_names  # local TREC ids are alphabetical
    remap = {i: label_names.index(n) for i, n in enumerate(hub_names)}

    def conv(split) -> Split:
        texts = [" ".join(str(r[c]) for c in info.hub_text) for r in split]
        labels = np.asarray([remap[int(r[info.hub_label])] for r in split], dtype=np.int64)
        return Split(texts, labels)

    train, test = conv(ds["train"]), conv(ds["test"])
    deviations = []
    if "validation" in ds and info.name == "sst2":
        dev = conv(ds["validation"])
    else:
        train, dev = _split_off(train, seeded_dev_indices(len(train), info.paper["dev"], info.dev_seed))
        deviations.append(f"{info.name}: dev set is a seeded hold-out of train (seed {info.dev_seed}), "
                          "not the authors' unpublished split")
    return Dataset(info.name, label_names, train, dev, test, f"hub:{info.hub_id}", deviations)


_CACHE: dict[tuple, Dataset] = {}


def load_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    info = dataset_info(name)
    root = resolve_data_dir(data_dir)
    key = (name, str(root))
    if key not in _CACHE:
        _CACHE[key] = _load_local(info, root) if root is not None else _load_hub(info)
    return _CACHE[key]
