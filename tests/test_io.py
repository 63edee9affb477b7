"""flatbench.io: the atomic writes the cache, the attack components and the resource builders share."""

import json
import os

import pytest

from flatbench import io as fio


def test_write_text_atomic_replaces_whole_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "sub" / "f.txt"
    fio.write_text_atomic(p, "one")
    fio.write_text_atomic(p, "two")
    assert p.read_text() == "two" and os.listdir(p.parent) == ["f.txt"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "f.json"
    fio.write_json(p, {"a": 1})

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fio.os, "replace", broken)
    with pytest.raises(OSError):
        fio.write_json(p, {"a": 2})
    assert json.loads(p.read_text()) == {"a": 1} and os.listdir(tmp_path) == ["f.json"]


def test_write_bytes_atomic_is_whole_or_not_at_all(tmp_path, monkeypatch):
    p = tmp_path / "f.pickle"
    fio.write_bytes_atomic(p, b"\x00one")
    monkeypatch.setattr(fio.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("io error")))
    with pytest.raises(OSError):
        fio.write_bytes_atomic(p, b"\x00two")
    assert p.read_bytes() == b"\x00one" and os.listdir(tmp_path) == ["f.pickle"]


def test_install_dir_atomically_replaces_a_stale_directory(tmp_path):
    target = tmp_path / "res"
    fio.install_dir_atomically(lambda d: (d / "old").write_text("x"), target)
    fio.install_dir_atomically(lambda d: (d / "new").write_text("y"), target)
    assert os.listdir(target) == ["new"] and os.listdir(tmp_path) == ["res"]


def test_every_component_uses_the_one_helper():
    from flatbench import cache
    from flatbench.attack_resources import catalog, env
    from flatbench.attacks import runner

    assert cache.write_text_atomic is env.write_text_atomic is runner.write_text_atomic is fio.write_text_atomic
    assert catalog.install_dir_atomically is fio.install_dir_atomically
