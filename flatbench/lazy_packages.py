"""Import a package's ``__init__`` only as far as what is asked of it.

``import textattack`` runs package ``__init__`` files that import every recipe, constraint and
transformation TextAttack has (flair, bert_score, the language-model constraints, ...): ~3 s
before a PWWS attack can start, for code it never runs. With `install` (called before TextAttack
is first imported), a package of the listed distributions is created without running its
``__init__``; a name looked up on it is then resolved the way that ``__init__`` would bind it:

* a name the ``__init__`` imports explicitly (``from .attack import Attack``) is taken from the
  module that statement names, importing only that one (the last such statement wins);
* else a submodule of that name (``textattack.constraints``) is imported (itself lazily, when a
  package);
* else the ``__init__``'s star imports (``from .utils import *``) are asked, the last first;
* a name the ``__init__`` computes itself (``flair.device``), ``__all__`` (a client's ``import *``)
  and ``dir()`` run the real ``__init__`` on the module; names already set on it (resolved, or
  replaced by a caller, like the runner's memoised ``words_from_text``) are kept.

So a lookup returns the object the eager import binds, unless an ``__init__`` lets a later star
import shadow a name it bound explicitly or a submodule's (re-exports are taken to be the same
object): among the packages listed here only NLTK's does, for two names (`_Resolver.lookup`);
tests/test_lazy_packages.py compares every public name of 12 of them.
What changes is which modules get imported, and when. DEFERRED modules get a stand-in until an
attribute is read. ``FLATBENCH_LAZY_PACKAGES=0`` turns it all off (eager imports).
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
import types

# TextAttack's own package tree, and flair: textattack.shared.utils.strings subclasses
# flair.data.Tokenizer at import, and flair's __init__ imports all of flair (models, trainers).
# NLTK's __init__ imports all of NLTK (parsers, classifiers -> scikit-learn, scipy.stats).
PACKAGES = ("textattack", "flair", "nltk")

# Modules imported as soon as their lazy root is, in this order: the eager ``__init__`` enters
# TextAttack's import cycle goal_functions <-> shared.validators from validators (textattack ->
# attack_args -> shared -> validators -> goal_functions -> goal_function -> shared.validators,
# partial but present); entered from goal_function instead, validators would need GoalFunction
# before it is defined.
ENTRY = {"textattack": ("textattack.shared.validators",)}

# Modules a lazily imported module imports at its top only for a path an attack here never takes:
# a stand-in module takes their place until something reads an attribute of it (then the real
# module is imported and answers). textattack.attack imports transformers (~0.7 s) for two
# isinstance checks in Attack.cpu_/cuda_.
DEFERRED = ("transformers",)

# What the import system itself reads from a module it creates: never a reason to import it.
_MACHINERY = frozenset(("__name__", "__loader__", "__package__", "__spec__", "__path__", "__file__",
                        "__cached__", "__builtins__", "__getattr__", "__class__", "__dict__"))

_lock = threading.RLock()


def enabled() -> bool:
    return os.environ.get("FLATBENCH_LAZY_PACKAGES", "1").strip().lower() not in ("0", "off", "false", "no")


def install(packages=PACKAGES) -> bool:
    """Make the top-level ``packages`` lazy for the rest of the process; a no-op for one already
    imported (its modules stay as they are) or when disabled. Returns whether a finder is active."""
    if not enabled():
        return False
    todo = {p for p in packages if p not in sys.modules}
    deferred = {p for p in DEFERRED if p not in sys.modules}
    with _lock:
        for f in sys.meta_path:
            if isinstance(f, _Finder):
                f.roots |= todo
                return True
        if not todo:
            return False
        sys.meta_path.insert(0, _Finder(todo, deferred))
    return True


def init_pending(module) -> bool:
    """Whether ``module`` is a package made lazy here whose real ``__init__`` has not run (so a
    name bound on it now is kept when it does run)."""
    r = vars(module).get("__getattr__")
    return isinstance(r, _Resolver) and not r.full


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, roots, deferred=()):
        self.roots = set(roots)
        self.deferred = set(deferred)

    def find_spec(self, fullname, path, target=None):
        top = fullname.partition(".")[0]
        if top in self.deferred:
            stand_in = sys.modules.get(top)
            if fullname != top:  # a submodule is wanted: the real package first
                if isinstance(stand_in, _Deferred):
                    stand_in._real()
                return None
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is not None:
                spec.loader = _DeferredLoader(spec.loader, self)
            return spec
        if top not in self.roots:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.submodule_search_locations is None or spec.origin is None:
            return spec  # plain modules import as usual
        if not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        spec.loader = _LazyInitLoader(spec.loader)
        return spec


class _DeferredLoader(importlib.abc.Loader):
    def __init__(self, loader, finder):
        self.loader, self.finder = loader, finder

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return _Deferred(spec.name, self.finder)

    def exec_module(self, module):
        pass


class _Deferred(types.ModuleType):
    """Stands in for a DEFERRED module: the first attribute read imports the real one (which
    then also replaces this in sys.modules) and every read is answered from it."""

    def __init__(self, name, finder):
        super().__init__(name)
        self.__dict__["_flatbench_finder"] = finder

    def _real(self):
        real = self.__dict__.get("_flatbench_real")
        if real is None:
            with _lock:
                real = self.__dict__.get("_flatbench_real")
                if real is None:
                    self.__dict__["_flatbench_finder"].deferred.discard(self.__name__)
                    if sys.modules.get(self.__name__) is self:
                        del sys.modules[self.__name__]
                    real = importlib.import_module(self.__name__)
                    self.__dict__["_flatbench_real"] = real
        return real

    def __getattr__(self, name):
        if name in _MACHINERY and "_flatbench_real" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self._real(), name)

    def __dir__(self):
        return dir(self._real())


class _LazyInitLoader(importlib.abc.Loader):
    """Creates the package module and attaches a module ``__getattr__`` (PEP 562) instead of
    running its ``__init__``."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # resources, get_filename, ... from the real loader
        return getattr(self.loader, name)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        resolver = module.__dict__["__getattr__"] = _Resolver(module, self.loader)
        module.__dict__["__dir__"] = resolver.names
        for name in ENTRY.get(module.__name__, ()):
            importlib.import_module(name)


class _Resolver:
    def __init__(self, module, loader):
        self.module, self.loader = module, loader
        self.plan = None  # _plan(): (import statements, names bound otherwise)
        self.full = False
        self.absent = set()  # names found to be no submodule

    def __call__(self, name):
        # No lock here: a lookup may import, and the import system has its own locks; resolving
        # a name twice binds the same object.
        d = self.module.__dict__
        if name in d:
            return d[name]
        value = self._resolve(name)
        d[name] = value  # over what resolving bound on the way (an imported submodule of that name)
        return value

    def _resolve(self, name):
        mod = self.module
        dunder = name.startswith("__") and name.endswith("__")
        if not self.full:
            computed = self.ensure_plan()[1]
            # `__all__`: a client's `from package import *` needs every name the __init__ binds
            if computed is not None and name not in computed and name != "__all__":
                if dunder:
                    raise AttributeError(name)  # probes (copy, pickle, inspect) import nothing
                found = self.lookup(name)
                if found is not _MISSING:
                    return found
            self._run_init()
            if name in mod.__dict__:
                return mod.__dict__[name]
        # After the real __init__: a submodule nothing imported yet (eagerly, some other module
        # would have, binding it here) is imported; anything else is missing.
        if not dunder and self._submodule(name):
            return importlib.import_module(f"{mod.__name__}.{name}")
        raise AttributeError(f"module {mod.__name__!r} has no attribute {name!r}")

    def lookup(self, name):
        """The name from the ``__init__``'s import statements, without running it; _MISSING when
        they do not bind it. Explicit imports are read before star imports (the last first within
        each), and a name no explicit import binds is a submodule before it is a star import's
        (``from nltk import redos`` imports nltk.redos alone). So a star import never imports a
        module only to learn that it re-exports an object bound already. Where a package's
        ``__init__`` lets a star import shadow a name, this differs from the eager import until
        the real ``__init__`` has run: NLTK's does so by accident, and eagerly ``nltk.util`` is
        nltk.stem.util and ``nltk.metrics`` nltk.translate.metrics (tests/test_lazy_packages.py)."""
        statements = self.plan[0]
        for target, names in reversed(statements):
            if names is not None and name in names:
                if names[name] is None:  # from . import x
                    return importlib.import_module(target)
                m = importlib.import_module(target)
                try:
                    return getattr(m, names[name])
                except AttributeError:  # from package import submodule
                    return importlib.import_module(f"{target}.{names[name]}")
        if self._submodule(name):
            return importlib.import_module(f"{self.module.__name__}.{name}")
        for target, names in reversed(statements):
            if names is None:
                found = _exports(target, name)
                if found is not _MISSING:
                    return found
        return _MISSING

    def names(self):
        """``dir(package)``: every name, so the real ``__init__`` runs (introspection sees what
        the eager import shows)."""
        if not self.full:
            self._run_init()
        return sorted(self.module.__dict__)

    def _submodule(self, name) -> bool:
        if name in self.absent:
            return False
        if importlib.util.find_spec(f"{self.module.__name__}.{name}") is not None:
            return True
        self.absent.add(name)
        return False

    def ensure_plan(self):
        if self.plan is None:
            self.plan = _plan(self.loader.get_source(self.module.__name__) or "", self.module.__name__)
        return self.plan

    def _run_init(self):
        """The real ``__init__``, on the module; what was bound before (resolved, or set by a
        caller, e.g. a patched function) is kept. This resolver stays (for submodules) unless the
        ``__init__`` defines a ``__getattr__`` of its own."""
        self.full = True
        d = self.module.__dict__
        before = dict(d)
        del d["__getattr__"]
        try:
            self.loader.exec_module(self.module)
        except BaseException:
            d.setdefault("__getattr__", self)
            self.full = False
            raise
        if d.get("__dir__") == self.names:
            del d["__dir__"]  # every name is bound now
        for k, v in before.items():  # modules bound as a side effect of imports: the __init__'s word wins
            if k not in ("__getattr__", "__dir__") and not isinstance(v, types.ModuleType):
                d[k] = v
        d.setdefault("__getattr__", self)


_MISSING = object()


def _exports(target: str, name: str):
    """What ``from target import *`` binds to ``name`` (_MISSING: nothing); a lazy package is asked
    without running its ``__init__`` where its import statements decide."""
    if name.startswith("_"):
        return _MISSING
    m = importlib.import_module(target)
    r = m.__dict__.get("__getattr__")
    if isinstance(r, _Resolver) and not r.full:
        computed = r.ensure_plan()[1]
        if computed is not None and "__all__" not in computed and name not in computed:
            found = r.lookup(name)
            if found is not _MISSING:
                m.__dict__[name] = found
            return found
        r._run_init()
    public = m.__dict__.get("__all__")
    if public is not None:
        return getattr(m, name) if name in public else _MISSING
    return m.__dict__.get(name, _MISSING)


def _plan(source: str, pkg: str):
    """The ``__init__``'s top-level ``from ... import`` statements in order, as (module, {bound
    name: attribute, or None for the module itself}) or (module, None) for ``import *``; and the
    names any other statement binds (those need the real ``__init__``; None when a nested star
    import makes them unknowable)."""
    statements, computed = [], set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), pkg) if node.level \
                else node.module
            if any(a.name == "*" for a in node.names):
                statements.append((base, None))
            elif base == pkg:  # from . import a, b: submodules (or names the __init__ computed)
                for a in node.names:
                    statements.append((f"{pkg}.{a.name}", {a.asname or a.name: None}))
            else:
                statements.append((base, {a.asname or a.name: a.name for a in node.names}))
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                computed.add(sub.id)
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                computed.add(sub.name)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                for a in sub.names:
                    if a.name == "*":
                        return statements, None
                    computed.add(a.asname or a.name.partition(".")[0])
    return statements, computed
