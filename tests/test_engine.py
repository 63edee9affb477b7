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
    assert "688 stages" in r.stdout and "bert" in r.stdout
    (tmp_path / "runs").mkdir()
    r = _without_torch(tmp_path, "report", "--grid", "table3_cpu", "--data-dir", str(data_dir),
                       "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 0, r.stderr[-1500:]
    assert "stages complete" in r.stdout
    # and the fake really blocks torch: anything that needs it fails
    r = _without_torch(tmp_path, "attack", "--model", "cnn", "--dataset", "trec", "--recipe", "pwws",
                       "--n", "1", "--data-dir", str(data_dir), "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode != 0
