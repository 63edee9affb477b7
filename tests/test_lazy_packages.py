"""flatbench.lazy_packages: TextAttack, flair and NLTK imported only as far as used, every name
bound to the object the eager import binds. Each check runs in a fresh interpreter (the point is
what a process imports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

# Packages whose public names are compared between the lazy and the eager import.
PACKAGES = ["textattack", "textattack.shared", "textattack.shared.utils", "textattack.constraints",
            "textattack.constraints.pre_transformation", "textattack.goal_functions",
            "textattack.search_methods", "textattack.transformations", "textattack.attack_recipes",
            "nltk", "nltk.corpus", "flair"]


def _run(code: str, lazy: bool) -> dict:
    env = {**os.environ, "FLATBENCH_LAZY_PACKAGES": "1" if lazy else "0"}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


BUILD_PWWS = """
    import json, sys
    from flatbench.attacks.recipes import _common
    ta = _common.textattack()
    from textattack import Attack
    from textattack.constraints.pre_transformation import RepeatModification, StopwordModification
    from textattack.search_methods import GreedyWordSwapWIR
    from textattack.transformations import WordSwapWordNet
    from textattack.goal_functions import UntargetedClassification
    from textattack.shared import AttackedText
    import flatbench.attacks.wrapper
    mods = sorted(sys.modules)
"""


def test_a_pwws_process_imports_a_fraction_of_textattack():
    out = _run(BUILD_PWWS + """
    t = sys.modules["transformers"]
    print(json.dumps({"mods": mods, "transformers": type(t).__name__,
                      "same": [Attack is sys.modules["textattack.attack"].Attack,
                               ta.shared.utils.words_from_text is sys.modules["textattack.shared.utils.strings"].words_from_text,
                               ta.shared.AttackedText is AttackedText]}))
    """, lazy=True)
    mods = set(out["mods"])
    heavy = ["flair.models", "flair.embeddings", "bert_score", "sklearn", "scipy.stats",
             "textattack.constraints.grammaticality.language_models", "textattack.attack_recipes.clare_li_2020",
             "textattack.augmentation", "textattack.commands", "nltk.classify"]
    assert not [m for m in heavy if m in mods]
    assert out["transformers"] == "_Deferred"  # stands in until an attribute is read
    assert all(out["same"])
    eager = set(_run(BUILD_PWWS + "    print(json.dumps({'mods': mods}))", lazy=False)["mods"])
    assert {"flair.models", "bert_score", "textattack.augmentation"} <= eager
    ta_lazy = {m for m in mods if m.startswith("textattack")}
    ta_eager = {m for m in eager if m.startswith("textattack")}
    assert ta_lazy < ta_eager and len(ta_lazy) < len(ta_eager) / 3, (len(ta_lazy), len(ta_eager))


DESCRIBE = f"""
    import importlib, inspect, json, types
    from flatbench.attacks.recipes import _common
    _common.textattack()

    def ident(v):
        if isinstance(v, types.ModuleType):
            return "module " + v.__name__
        if inspect.isclass(v) or inspect.isfunction(v):
            return f"{{v.__module__}}.{{v.__qualname__}}"
        return type(v).__module__ + "." + type(v).__qualname__

    out = {{}}
    for name in {PACKAGES!r}:
        m = importlib.import_module(name)
        names = out.setdefault(name, {{}})
        for attr in NAMES.get(name, ()) if NAMES else [a for a in vars(m) if not a.startswith("_")]:
            names[attr] = ident(getattr(m, attr))
    print(json.dumps(out))
"""


def test_every_public_name_is_the_eager_imports_object():
    eager = _run("NAMES = None\n" + textwrap.dedent(DESCRIBE), lazy=False)
    lazy = _run(f"NAMES = {json.dumps({k: sorted(v) for k, v in eager.items()})}\n" + textwrap.dedent(DESCRIBE),
                lazy=True)
    assert sum(len(v) for v in eager.values()) > 500
    for pkg, names in eager.items():
        diff = {a: (names[a], lazy[pkg].get(a)) for a in names if lazy[pkg].get(a) != names[a]
                # an NLTK corpus loader turns into its reader when first read: the eager import
                # reads the stopwords, this process has not yet
                and lazy[pkg].get(a) != "nltk.corpus.util.LazyCorpusLoader"
                # NLTK's own stand-in for a submodule (nltk.corpus, nltk.toolbox): the eager import
                # binds the module itself where it was imported after nltk's __init__ ran
                and {names[a], lazy[pkg].get(a)} != {f"module {pkg}.{a}", "nltk.lazyimport.LazyModule"}}
        assert not diff, (pkg, diff)


def test_the_two_names_nltk_shadows_by_accident():
    """NLTK's __init__ star-imports nltk.stem and nltk.translate after binding nltk.util and
    nltk.metrics, so eagerly those names are their submodules util/metrics. Looked up before
    NLTK's __init__ has run, the lazy package gives the modules the names say; after it has run
    (any name it computes), the eager objects."""
    code = """
    import json, nltk
    first = [nltk.util.__name__, nltk.metrics.__name__]
    nltk.__all__ if hasattr(nltk, "__all__") else dir(nltk)  # runs the real __init__
    print(json.dumps({"first": first, "after": [nltk.util.__name__, nltk.metrics.__name__]}))
    """
    lazy = _run("from flatbench import lazy_packages; lazy_packages.install()\n" + textwrap.dedent(code), lazy=True)
    eager = _run(textwrap.dedent(code), lazy=False)
    assert eager == {"first": ["nltk.stem.util", "nltk.translate.metrics"]} | {"after": ["nltk.stem.util",
                                                                                     "nltk.translate.metrics"]}
    assert lazy == {"first": ["nltk.util", "nltk.metrics"], "after": ["nltk.stem.util", "nltk.translate.metrics"]}


def test_a_replaced_name_survives_the_full_init_and_dir_lists_everything():
    out = _run("""
    import json
    from flatbench.attack_resources.catalog import ensure_nltk_env
    ensure_nltk_env()  # makes NLTK offline-ready and the packages lazy
    import textattack.shared.utils as tu
    import textattack.shared.utils.strings as ts
    original = ts.words_from_text
    tu.words_from_text = patched = lambda s, words_to_ignore=[]: ["patched"]
    ns = {}
    exec("from textattack.shared.utils import *", ns)  # runs the real __init__ (star import)
    import textattack.constraints as tc
    import transformers
    listed = {"constraints": {"grammaticality", "Constraint", "PreTransformationConstraint"} <= set(dir(tc)),
              "transformers": "PreTrainedModel" in dir(transformers)}
    print(json.dumps({"kept": tu.words_from_text is patched, "star": ns["words_from_text"] is patched,
                      "dir": listed,
                      "others": tu.LazyLoader is ts.LazyLoader, "full": vars(tu)["__getattr__"].full}))
    """, lazy=True)
    assert out == {"kept": True, "star": True, "dir": {"constraints": True, "transformers": True},
                   "others": True, "full": True}


CORPORA = """
    import json, sys
    from flatbench.attack_resources.catalog import ensure_nltk_env
    ensure_nltk_env()
    import nltk.corpus
    from textattack.constraints.pre_transformation import StopwordModification
    from nltk.corpus import wordnet
    stop = StopwordModification()  # reads nltk.corpus.stopwords
    sw = nltk.corpus.stopwords
    before = {"init_ran": vars(nltk.corpus)["__getattr__"].full if "__getattr__" in vars(nltk.corpus) else True,
              "scipy.stats": "scipy.stats" in sys.modules,
              "readers": sorted(m for m in sys.modules if m.startswith("nltk.corpus.reader."))}
    dir(nltk.corpus)  # the real __init__ now: what it binds must not replace the two loaders
    print(json.dumps({**before, "stopwords": sorted(stop.stopwords), "wordnet": wordnet.synsets("dog")[0].name(),
                      # read once, a LazyCorpusLoader becomes its reader
                      "loader": [type(sw).__name__, str(sw.root), sw.fileids(), sw._encoding],
                      "kept": nltk.corpus.stopwords is sw and nltk.corpus.wordnet is wordnet}))
"""


def test_the_corpus_loaders_an_attack_reads_are_bound_without_nltk_corpus_init():
    """`ensure_nltk_env` binds nltk.corpus.wordnet and .stopwords by NLTK's own statements, so
    building PWWS or TextFooler imports neither every corpus reader nor (through nltk.metrics)
    scipy.stats: ~0.6 s of each attack process's start. The loaders equal the eager ones."""
    lazy = _run(CORPORA, lazy=True)
    eager = _run(CORPORA, lazy=False)
    assert lazy["init_ran"] is False and eager["init_ran"] is True
    assert not lazy["scipy.stats"] and eager["scipy.stats"]
    assert len(lazy["readers"]) <= 8 < 30 < len(eager["readers"]), lazy["readers"]
    for k in ("stopwords", "wordnet", "loader"):
        assert lazy[k] == eager[k], k
    assert len(lazy["stopwords"]) == 179 and lazy["wordnet"] == "dog.n.01"
    assert lazy["loader"][0] == "StopwordsCorpusReader" and "english" in lazy["loader"][2]
    assert lazy["kept"] and eager["kept"]


def test_off_switch_imports_eagerly():
    out = _run("""
    import json, sys
    from flatbench import lazy_packages
    from flatbench.attack_resources.catalog import ensure_nltk_env
    active = lazy_packages.install()
    ensure_nltk_env()
    import textattack
    print(json.dumps({"active": active, "flair": "flair.models" in sys.modules}))
    """, lazy=False)
    assert out == {"active": False, "flair": True}
