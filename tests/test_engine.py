"""The engine's shape: no import circles anywhere in the package, and planning/reporting that
never needs torch."""

import ast
import os
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "flatbench"


def _module_name(p: Path) -> str:
    parts = p.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(p: Path, name: str, modules: set) -> set:
    """Every flatbench module ``p`` imports, at top level or inside a function."""
    out = set()
    is_pkg = p.name == "__init__.py"
    for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([node.module] if node.module else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if sub in modules else base)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m in modules and m != name}


def test_no_import_circle_in_the_package():
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph = {m: _imports(p, m, set(files)) for m, p in files.items()}
    state, cycles = {}, []

    def visit(m, path):
        state[m] = "open"
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                cycles.append(path[path.index(d):] + [d])
            elif d not in state:
                visit(d, path + [d])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_attack_resources_are_a_floor_below_the_attacks():
    """flatbench.attack_resources (environment, catalog, counter-fitted space, encoders) is imported
    by the attacks and imports none of them, at top level or inside a function."""
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    floor = {m for m in files if m.startswith("flatbench.attack_resources")}
    assert {"flatbench.attack_resources.env", "flatbench.attack_resources.catalog",
            "flatbench.attack_resources.counterfit", "flatbench.attack_resources.constraints"} <= floor
    up = {m: sorted(d for d in _imports(files[m], m, set(files)) if d.startswith("flatbench.attacks"))
          for m in floor}
    assert not any(up.values()), {m: d for m, d in up.items() if d}
    users = {m for m, p in files.items() if m.startswith("flatbench.attacks")
             and any(d in floor for d in _imports(p, m, set(files)))}
    assert "flatbench.attacks.runner" in users and "flatbench.attacks.recipes" in users


def test_the_walker_sees_function_level_circles(tmp_path):
    """The check above can fail: two modules importing each other inside functions are found."""
    pkg = tmp_path / "flatbench"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from flatbench import b\n")
    (pkg / "b.py").write_text("def g():\n    from flatbench.a import f\n")
    files = {"flatbench": pkg / "__init__.py", "flatbench.a": pkg / "a.py", "flatbench.b": pkg / "b.py"}
    global PKG
    saved, PKG = PKG, pkg
    try:
        graph = {m: _imports(p, m, set(files)) for m, p in files.items()}
    finally:
        PKG = saved
    assert graph["flatbench.a"] == {"flatbench.b"} and graph["flatbench.b"] == {"flatbench.a"}


def _without_torch(tmp_path, *args, cwd=None):
    fake = tmp_path / "notorch" / "torch"
    fake.mkdir(parents=True, exist_ok=True)
    (fake / "__init__.py").write_text("raise ImportError('torch is unavailable in this test')\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    return subprocess.run([sys.executable, "-m", "flatbench.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd or tmp_path, timeout=600)


def test_dry_run_and_report_work_where_torch_cannot_be_imported(tmp_path, data_dir):
    r = _without_torch(tmp_path, "run", "--grid", "table3", "--dry-run", "--data-dir", str(data_dir))
    assert r.returncode == 0, r.stderr[-1500:]
    assert "704 stages" in r.stdout and "bert" in r.stdout  # 688 + a correlate stage per FLAT word-model cell
    (tmp_path / "runs").mkdir()
    r = _without_torch(tmp_path, "report", "--grid", "table3_cpu", "--data-dir", str(data_dir),
                       "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 0, r.stderr[-1500:]
    assert "stages complete" in r.stdout
    # and the fake really blocks torch: anything that needs it fails
    r = _without_torch(tmp_path, "attack", "--model", "cnn", "--dataset", "trec", "--recipe", "pwws",
                       "--n", "1", "--data-dir", str(data_dir), "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode != 0


# --- declared hyper-parameters -------------------------------------------------------------

def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "flatbench.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_unknown_hyper_parameter_from_set_or_grid_is_one_line_exit_2(tmp_path, data_dir):
    r = _cli("run", "--grid", "smoke", "--set", "bata=0.1", "--dry-run", "--data-dir", data_dir)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "flatbench: error: grid smoke: unknown hyper-parameter 'bata' (did you mean 'beta'?)")
    g = tmp_path / "g.toml"
    g.write_text('name = "g"\n[axes]\nmodels = ["lstm"]\ndatasets = ["trec"]\nmethods = ["base"]\n'
                 'attacks = ["pwws"]\n[[hp]]\nepochs = 1\nhiden = 10\n')
    r = _cli("run", "--grid", str(g), "--dry-run", "--data-dir", data_dir)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "unknown hyper-parameter 'hiden' (did you mean 'hidden'?)" in r.stderr
    r = _cli("run", "--grid", "smoke", "--set", "epochs=1.5", "--dry-run", "--data-dir", data_dir)
    assert r.returncode == 2 and "epochs = 1.5: must be an integer >= 1" in r.stderr


def _train_stage(method, round=0, **hp):
    from flatbench.cells import Cell, _freeze
    from flatbench.stages import TrainStage

    base = {"embedding": "glove50", "epochs": 1, "rounds": 1}
    return TrainStage(Cell("lstm", "trec", method, "pwws" if method in ("adv", "flat") else None, 13,
                           _freeze({**base, **hp})), round)


def test_train_keys_hold_every_declared_hyper_parameter(monkeypatch, data_dir):
    import types

    from flatbench import hparams as H
    from flatbench.models import hp as model_hp
    from flatbench.registry import METHODS

    monkeypatch.setenv("FLATBENCH_DATA_DIR", str(data_dir))
    base0 = _train_stage("base")
    # adv's round 0 is base's model, and its spec says so; FLAT's is its own
    assert _train_stage("adv").key == base0.key and _train_stage("adv").spec()["round0_of"] == "base"
    assert _train_stage("flat").key != base0.key
    # a registered method with its own hyper-parameters and no mask gets its own key
    fake = types.SimpleNamespace(NAME="fake", USES_MASK=False, ADVERSARIAL=False,
                                 HP={"adv_steps": H.P(3, "int", lo=1)})
    monkeypatch.setitem(METHODS._entries, "fake", fake)
    assert _train_stage("fake").key != base0.key
    # a changed default (not only a value set in the grid) changes the key
    k = base0.key
    monkeypatch.setitem(model_hp.LSTM, "hidden", H.P(151, "int", lo=1))
    assert _train_stage("base").key != k
    # explicitly setting a value equal to the default is the same stage
    monkeypatch.setitem(model_hp.LSTM, "hidden", H.P(150, "int", lo=1))
    assert _train_stage("base", hidden=150).key == k
    # hyper-parameters another component declares do not enter this one's key
    assert _train_stage("base", filters=300).key == k
    # FLAT's gamma acts in rounds > 0 only
    assert _train_stage("flat", gamma=0.5).key == _train_stage("flat").key
    assert _train_stage("flat", 1, gamma=0.5).key != _train_stage("flat", 1).key


def test_freelb_is_one_method_file_with_its_own_key_and_a_finite_loss(monkeypatch, data_dir, trec):
    import torch

    from flatbench.models.word import LSTM
    from flatbench.registry import METHODS
    from flatbench.training.loop import Example, make_batches

    monkeypatch.setenv("FLATBENCH_DATA_DIR", str(data_dir))
    assert _train_stage("freelb").key != _train_stage("base").key
    assert _train_stage("freelb", adv_steps=2).key != _train_stage("freelb").key
    freelb = METHODS.get("freelb")
    bundle = LSTM.build(trec, {"embedding": "glove50", "max_len": 40}, 0, mask=False)
    ex = [Example(t, int(y)) for t, y in zip(trec.train.texts[:16], trec.train.labels[:16])]
    import random

    batch = next(iter(make_batches(bundle, ex, 16, random.Random(0))))
    torch.manual_seed(0)
    loss, logs = freelb.batch_loss(bundle, batch, {"adv_steps": 3})
    loss.backward()
    grads = [p.grad for p in bundle.model.parameters() if p.requires_grad]
    assert torch.isfinite(loss) and all(g is not None and torch.isfinite(g).all() for g in grads)
    # delta moved away from its start (norm ~ 0.05) by two ascent steps of 0.03
    assert 0.03 < logs["freelb_delta_norm"] < 0.05 + 2 * 0.03 + 1e-6
    # K = 1 with no initial perturbation is plain cross-entropy (eval: no dropout noise)
    bundle.model.eval()
    base = METHODS.get("base").batch_loss(bundle, batch, {})[0]
    one = freelb.batch_loss(bundle, batch, {"adv_steps": 1, "adv_init_mag": 0.0})[0]
    assert abs(float(one) - float(base)) < 1e-5
