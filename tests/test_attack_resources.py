"""Attack resources and recipes, offline, with real libraries and real SST-2 sentences.

The prepared resources live in the default resource dir (or $FLATBENCH_RESOURCES): deriving
the counter-fitted embedding takes ~30 s the first time and nothing afterwards.
"""

import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from flatbench.attack_resources import catalog as R
from flatbench.errors import ResourceMissingError, UnknownNameError


@pytest.fixture(scope="session")
def prepared():
    report = R.prepare(online=False)
    status = {r["name"]: r["status"] for r in report["resources"]}
    if status["wordnet"] == "missing":
        pytest.fail(f"WordNet missing: run `{R.APT_COMMAND}`")
    return report


@pytest.fixture(scope="session")
def ta(prepared):
    import textattack

    return textattack


def _read(path, n=None):
    out = []
    with open(path) as f:
        for line in f:
            out.append(json.loads(line))
            if n is not None and len(out) >= n:
                break
    return out


@pytest.fixture(scope="session")
def bow_wrapper(ta, data_dir):
    """A bag-of-words linear classifier trained for ~1 s on real SST-2, as a ModelWrapper."""
    import torch
    from textattack.models.wrappers import ModelWrapper

    train = _read(data_dir / "sst2" / "train.jsonl")
    counts = Counter(w for ex in train for w in ex["text"].lower().split())
    vocab = {w: i + 1 for i, (w, _) in enumerate(counts.most_common(20000))}

    def encode(texts):
        ids, offsets = [], []
        for t in texts:
            offsets.append(len(ids))
            ids += [vocab.get(w, 0) for w in t.lower().split()] or [0]
        return torch.tensor(ids), torch.tensor(offsets)

    class BoW(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.EmbeddingBag(len(vocab) + 1, 2, mode="mean")

        def forward(self, ids, offsets):
            return self.emb(ids, offsets)

    torch.manual_seed(0)
    model = BoW()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    texts = [e["text"] for e in train]
    labels = torch.tensor([e["label"] for e in train])
    for _ in range(2):
        perm = torch.randperm(len(texts))
        for s in range(0, len(texts), 256):
            b = perm[s:s + 256]
            loss = torch.nn.functional.cross_entropy(model(*encode([texts[i] for i in b])),
                                                     labels[b])
            opt.zero_grad()
            loss.backward()
            opt.step()

    class Wrapper(ModelWrapper):
        def __init__(self, m):
            self.model = m

        def __call__(self, text_list):
            with torch.no_grad():
                return torch.softmax(self.model(*encode(text_list)), -1).numpy()

    return Wrapper(model.eval())


def test_stopwords_env_makes_textattack_import_offline(tmp_path):
    # fresh resource dir and fresh TextAttack cache: TextAttack's post-install runs its six
    # nltk.download calls, and StopwordModification reads the stopwords at import time
    env = dict(os.environ, FLATBENCH_RESOURCES=str(tmp_path / "res"),
               TA_CACHE_DIR=str(tmp_path / "ta"), HF_HUB_OFFLINE="1", FLATBENCH_OFFLINE="1")
    env.pop("NLTK_DATA", None)  # set by ensure_nltk_env() in this process: it would point elsewhere
    code = ("from flatbench.attack_resources.catalog import ensure_nltk_env; ensure_nltk_env(); "
            "import nltk, textattack; "
            "from textattack.constraints.pre_transformation import StopwordModification; "
            "print(len(StopwordModification().stopwords), nltk.download('stopwords'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["179", "True"]
    assert (tmp_path / "res" / "nltk_data" / "corpora" / "stopwords" / "english").is_file()


def test_prepare_is_idempotent_and_reports(prepared):
    assert set(prepared["actions"]) == {"stopwords", "wordnet", "pos_tagger", "counterfitted", "sentence_encoder"}
    assert prepared["actions"]["sentence_encoder"].startswith("USE-m3 prepared copy")
    by_name = {r["name"]: r for r in prepared["resources"]}
    assert set(by_name) == set(R.RESOURCE_NAMES)
    for r in prepared["resources"]:
        assert r["status"] in R.STATUSES
        assert bool(r["deviation"]) == (r["status"] == "offline-substitute")
        assert "\n" not in r["deviation"] and "\n" not in r["fix"]
    assert by_name["counterfitted"]["status"] != "missing"
    again = R.prepare(online=False)  # nothing is redone (its time: benchmarks/test_timings.py)
    assert all(a in ("exists", "tag map present") or a.startswith("USE-m3 prepared copy present")
               for a in again["actions"].values())


@pytest.mark.parametrize("status", ["online-original", "offline-substitute", "missing"])
def test_a_deviation_exactly_where_a_substitute_is_used(status):
    """Whatever is found here: the original carries no deviation and needs no fix, a substitute
    says so in one line, a missing resource says how to get it."""
    r = R.AttackResource("wordnet", "WordNet 3.0", lambda: (status, "/somewhere"), "get it").status()
    assert bool(r.deviation) == (status == "offline-substitute")
    assert r.fix == ("" if status == "online-original" else "get it")
    assert "pwws" in r.recipes


def test_original_space_keeps_the_recipes_bounds():
    """TextAttack's own paragramcf (online) takes the published bound with no deviation, whatever
    the bound option; only the derived space is bounded by the calibrated or chosen values."""
    from flatbench.attacks.recipes._common import embedding_bound

    class Paragramcf:
        flatbench_source = "paragramcf"

    for opt in ({}, {"attack_bounds": "youden"}, {"attack_bounds": "cos0.70"}):
        assert embedding_bound(Paragramcf(), "textfooler", "min_cos_sim", 0.5, opt) == (0.5, [])
        assert embedding_bound(Paragramcf(), "gene", "max_mse_dist", 0.5, opt) == (0.5, [])


def test_wordnet_after_prepare(prepared):
    import nltk
    from nltk.corpus import wordnet

    lemmas = {lem.name() for s in wordnet.synsets("terrible") for lem in s.lemmas()}
    assert {"awful", "dreadful", "atrocious"} <= lemmas
    assert nltk.download("wordnet") is True  # present: no network, returns at once


def test_wordnet_reader_skips_only_the_identity_self_map(prepared, data_dir):
    """Our reader leaves out map30, which NLTK's builds at every load and which, for the "wordnet"
    corpus itself, is the identity; every English look-up the attacks make is the same."""
    from flatbench.attack_resources.env import wordnet_loader
    from flatbench.data.datasets import load_dataset

    stock, ours = wordnet_loader(skip_self_map=False), wordnet_loader()
    # the identity, but for OMW's "-a" label of an adjective satellite ("-s"), which NLTK's reader
    # relabels itself when map30 is None (its path for the WordNet 3.0 that OMW is keyed on)
    assert len(stock.map30) > 100_000
    assert all(k == v or (k[:-1] == v[:-1] and (k[-1], v[-1]) == ("a", "s")) for k, v in stock.map30.items())
    assert ours.map30 is None
    words = sorted({w for t in load_dataset("sst2", data_dir).test.texts[:300] for w in t.split()})
    assert len(words) > 1000
    for w in words:  # WordSwapWordNet's look-up: synsets(word, lang) and their lemma names
        a = [(s.name(), s.lemma_names(lang="eng")) for s in stock.synsets(w, lang="eng")]
        assert a == [(s.name(), s.lemma_names(lang="eng")) for s in ours.synsets(w, lang="eng")], w
    assert stock.langs() == ours.langs()
    # ours reads WordNet's files through plain ASCII lines instead of NLTK's decoding stream
    # reader (twice as fast cold); the index, exceptions and satellites it parses are the same
    from flatbench.attack_resources.env import AsciiLines

    assert isinstance(ours._data_file("n"), AsciiLines)
    assert type(stock._data_file("n")).__name__ == "SeekableUnicodeStreamReader"
    assert ours._lemma_pos_offset_map == stock._lemma_pos_offset_map
    assert ours._exception_map == stock._exception_map and ours.satellite_offsets == stock.satellite_offsets
    for pos in "nvar":  # every synset of a sample of offsets, line by line as the readers return them
        a, b = stock._data_file(pos), ours._data_file(pos)
        offsets = sorted({o for m in list(stock._lemma_pos_offset_map.values())[::97] for o in m.get(pos, [])})
        for o in offsets:
            a.seek(o), b.seek(o)
            assert a.readline() == b.readline() and a.tell() == b.tell()


def test_wordnets_kept_parse_is_nltks_parse(prepared, tmp_path, monkeypatch):
    """Our reader keeps NLTK's parse of WordNet's index, exception lists and satellite offsets
    (0.4-0.6 s at every load) in a pickle beside the resources; the next reader loads it (0.1 s
    with the collector paused, as the attack runner starts) and holds what NLTK's parser makes.
    A damaged pickle is parsed anew and written again; the key follows every parsed file."""
    from collections import defaultdict

    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    from flatbench.attack_resources import env

    stock = env.wordnet_loader(skip_self_map=False)
    stock.ensure_loaded()
    monkeypatch.setenv("FLATBENCH_RESOURCES", str(tmp_path))
    first = env.wordnet_loader()
    first.ensure_loaded()  # parsed by NLTK, then kept
    kept = env._parsed_index_path(first._root)
    assert kept is not None and kept.is_file() and tmp_path in kept.parents

    def no_parse(self):
        raise AssertionError("parsed again")

    with monkeypatch.context() as m:
        for name in ("_load_lemma_pos_offset_map", "_load_exception_map", "_scan_satellites"):
            m.setattr(WordNetCorpusReader, name, no_parse)
        second = env.wordnet_loader()
        second.ensure_loaded()
    assert isinstance(second._lemma_pos_offset_map, defaultdict)
    for a in env._PARSED:
        assert getattr(second, a) == getattr(stock, a) == getattr(first, a), a
    assert second._exception_map["s"] is second._exception_map["a"]  # shared, as NLTK makes it
    for w in ("running", "better", "geese", "terrible", "quickly", "movie"):
        assert [s.name() for s in second.synsets(w)] == [s.name() for s in stock.synsets(w)], w
    kept.write_bytes(b"not a pickle")
    third = env.wordnet_loader()
    third.ensure_loaded()
    assert third._lemma_pos_offset_map == stock._lemma_pos_offset_map
    assert env._parsed_index(first._root) is not None  # written again
    # the key: every parsed file's size and mtime
    fake = tmp_path / "wn"
    fake.mkdir()
    for name in env._PARSED_FROM:
        (fake / name).write_text("x")
    root = type("Root", (), {"path": str(fake)})()
    keys = {env._parsed_index_path(root)}
    for name in env._PARSED_FROM:
        st = (fake / name).stat()
        os.utime(fake / name, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        keys.add(env._parsed_index_path(root))
    assert len(keys) == len(env._PARSED_FROM) + 1
    (fake / "index.noun").unlink()
    assert env._parsed_index_path(root) is None  # not every file there: NLTK's own parse, nothing kept


def test_ascii_lines_only_where_they_equal_nltks_stream_reader(tmp_path):
    """The fast line reader is used for a file only when it is ASCII with "\\n" line ends; a
    file NLTK's reader would split or decode differently keeps NLTK's reader."""
    from nltk.data import SeekableUnicodeStreamReader

    from flatbench.attack_resources.env import AsciiLines, _plain_ascii_lines, _stamp

    text = "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which exists\nsecond line\nlast"
    plain, odd, utf = tmp_path / "plain", tmp_path / "odd", tmp_path / "utf"
    plain.write_bytes(text.encode())
    odd.write_bytes(text.replace("second", "sec\x0cond").encode())  # a form feed: a line end for str
    utf.write_bytes(text.replace("exists", "exists\u2028").encode())
    assert _plain_ascii_lines(str(plain), _stamp(str(plain)))
    assert not _plain_ascii_lines(str(odd), _stamp(str(odd))) and not _plain_ascii_lines(str(utf), _stamp(str(utf)))
    ours, theirs = AsciiLines(str(plain)), SeekableUnicodeStreamReader(open(plain, "rb"), "utf8")
    with ours, theirs:
        assert list(ours) == list(theirs) == text.splitlines(True)
        for o in (0, 9, 60, len(text) - 2):
            ours.seek(o), theirs.seek(o)
            assert ours.readline() == theirs.readline() and ours.tell() == theirs.tell()
    assert ours.closed


def test_counterfitted_neighbours_are_synonyms(prepared, ta):
    from flatbench.attack_resources.counterfit import load_counterfitted, neighbours

    emb = load_counterfitted()
    assert isinstance(emb, ta.shared.WordEmbedding)
    assert {"dreary", "bored"} <= set(neighbours(emb, "boring", 5))
    assert {"dreadful", "horrible", "awful"} <= set(neighbours(emb, "terrible", 10))
    assert "film" in neighbours(emb, "movie", 4)
    assert {"hatred", "loathe"} <= set(neighbours(emb, "hate", 6))
    # antonyms repelled below TextFooler's min_cos_sim (0.5); GloVe alone has them at ~0.8
    for a, b in [("good", "bad"), ("love", "hate"), ("boring", "interesting")]:
        assert emb.get_cos_sim(a, b) < 0.5
    nn = emb.nn_matrix
    assert nn.shape[1] >= 51 and (nn[:100, 0] == np.arange(100)).all()


def test_spacy_pos_tags_universal(ta):
    from flatbench.attack_resources.constraints import spacy_universal_tags

    assert spacy_universal_tags([["a", "good", "movie"], ["they", "run", "fast"]]) == [
        ("DET", "ADJ", "NOUN"), ("PRON", "VERB", "ADV")]


def test_spacy_pos_decides_as_textattacks_part_of_speech(bow_wrapper, data_dir):
    """SpacyPartOfSpeech is its own class (TextAttack's module imports flair's models); held here
    to PartOfSpeech's decisions on TextFooler's real candidates, with PartOfSpeech tagging by the
    same spaCy tagger one context at a time; and so is it with the runner's incremental tagger."""
    from textattack.constraints.grammaticality import PartOfSpeech
    from textattack.shared import AttackedText

    from flatbench.attack_resources.constraints import SpacyPartOfSpeech, spacy_tagger, spacy_universal_tags
    from flatbench.attack_resources.tagger_cache import IncrementalTagger
    from flatbench.attacks.recipes import build_attack

    class Stock(PartOfSpeech):
        def _get_pos(self, before_ctx, word, after_ctx):  # PartOfSpeech's, tagging with spaCy
            context = before_ctx + [word] + after_ctx
            key = " ".join(context)
            if key not in self._pos_tag_cache:
                self._pos_tag_cache[key] = (tuple(context), spacy_universal_tags([context])[0])
            words, tags = self._pos_tag_cache[key]
            return tags[words.index(word)]

    attack, _ = build_attack("textfooler", bow_wrapper)
    ours, stock = SpacyPartOfSpeech(allow_verb_noun_swap=True), Stock(allow_verb_noun_swap=True)
    fast = SpacyPartOfSpeech(allow_verb_noun_swap=True)
    fast._incremental = IncrementalTagger(spacy_tagger())
    n = kept = repeated = 0
    for ex in _read(data_dir / "sst2" / "test.jsonl", 20):
        text = AttackedText(ex["text"])
        for i in range(len(text.words)):
            cands = attack.transformation(text, indices_to_modify={i})
            if not cands:
                continue
            a, b = ours.call_many(cands, text), stock.call_many(cands, text)
            assert [c.text for c in a] == [c.text for c in b], (ex["text"], i)
            assert [c.text for c in fast.call_many(cands, text)] == [c.text for c in a], (ex["text"], i)
            n, kept = n + len(cands), kept + len(a)
            repeated += text.words[i] in text.words[max(i - 4, 0):i]
    # real work on both sides: hundreds of candidates, both verdicts common, a repeated word
    # (tagged at its first occurrence in the context, as PartOfSpeech does) among them
    assert n > 10_000 and 0.2 < kept / n < 0.8 and repeated > 0, (n, kept, repeated)


@pytest.mark.parametrize("name", ["pwws", "textfooler"])
def test_recipe_attacks_real_sentences(name, bow_wrapper, data_dir):
    from textattack.attack_results import AttackResult, SuccessfulAttackResult

    from flatbench.attacks.recipes import build_attack

    attack, deviations = build_attack(name, bow_wrapper)
    assert all(isinstance(d, str) and d and "\n" not in d for d in deviations)
    examples = _read(data_dir / "sst2" / "test.jsonl", 3)
    results = [attack.attack(ex["text"], ex["label"]) for ex in examples]
    assert all(isinstance(r, AttackResult) for r in results)
    assert any(isinstance(r, SuccessfulAttackResult) for r in results)
    for r, ex in zip(results, examples):
        if isinstance(r, SuccessfulAttackResult):
            assert r.perturbed_result.attacked_text.text != ex["text"]


def test_textfooler_deviations_name_substitutes(prepared, bow_wrapper):
    """A deviation line names each substitute in use, and only those: checked online and offline."""
    from flatbench.attacks.recipes import build_attack

    _, deviations = build_attack("textfooler", bow_wrapper)
    text = " | ".join(deviations)
    encoder = R.resource("sentence_encoder").status
    assert encoder != "missing"  # `prepared` makes a substitute where the original is unreachable
    assert ("Universal Sentence Encoder v3" in text) == (encoder == "offline-substitute")
    derived = R.resource("counterfitted").status == "offline-substitute"
    assert ("min_cos_sim = " in text and "calibrated" in text) == derived
    assert ("counter-fitted embeddings" in text) == derived
    assert ("spaCy" in text) == (R.resource("pos_tagger").status == "offline-substitute")
    # the encoder option chooses among the substitutes; with TF-Hub's USE v4 it changes nothing
    _, minilm = build_attack("textfooler", bow_wrapper, options={"sentence_encoder": "minilm"})
    m = " | ".join(minilm)
    assert ("all-MiniLM-L6-v2" in m and "0.840845057" in m) == (encoder == "offline-substitute")
    assert "Universal Sentence Encoder v3" not in m


@pytest.mark.parametrize("name", ["iga", "gene"])
def test_embedding_recipes_build_offline(name, bow_wrapper):
    from flatbench.attacks.recipes import build_attack, describe

    attack, deviations = build_attack(name, bow_wrapper)
    assert attack.transformation.max_candidates == describe(name)["max_candidates"]
    assert all(d.strip() and "\n" not in d for d in deviations)
    derived = R.resource("counterfitted").status == "offline-substitute"
    assert any("counter-fitted embeddings" in d for d in deviations) == derived
    if name == "gene":  # the LM constraint is dropped exactly where its model is missing
        dropped = any("Google 1-billion-words LM" in d for d in deviations)
        assert dropped == (R.resource("google_lm").status != "online-original")


@pytest.mark.parametrize("name,resources", [("pso", ("hownet", "flair_pos")),
                                            ("clare", ("masked_lm_distilroberta",)),
                                            ("bae", ("masked_lm_bert",))])
def test_hub_recipes_fail_fast_offline(name, resources, monkeypatch, request):
    from flatbench.attacks.recipes import build_attack

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if all(R.resource(r).status != "missing" for r in resources):
        pytest.skip(f"{name}'s resources are cached here")
    request.getfixturevalue("no_network")  # fast = decided without waiting on any connection
    with pytest.raises(ResourceMissingError) as err:
        build_attack(name, None)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{name}: ")


def test_describe_and_unknown_name():
    from flatbench.attacks.recipes import NAMES, build_attack, describe

    for name in NAMES:
        d = describe(name)
        assert d["name"] == name and d["paper"] and d["resources"]
        assert set(d["resources"]) <= set(R.RESOURCE_NAMES)
    assert describe("textfooler")["use_threshold"] == 0.840845057
    assert len(describe("textfooler")["stopwords"]) == 266
    with pytest.raises(UnknownNameError):
        build_attack("hotflip", None)


def test_wordnet_synonyms_read_directly_are_textattacks(ta, data_dir):
    """PWWS's candidates: the runner reads WordNet's lemma names from the data lines instead of
    building NLTK synsets (attack_resources.wordnet_synonyms). The set is stock
    WordSwapWordNet's for every word tried: SST2 test words (any case), inflected forms NLTK's
    morphy reduces, and every 40th lemma of WordNet's index; read from the lines, and again from
    synsets NLTK has built meanwhile."""
    from textattack.transformations import WordSwapWordNet

    from flatbench.attack_resources.wordnet_synonyms import WordNetSynonyms, fast_replacement_words
    from flatbench.data.datasets import load_dataset

    stock = WordSwapWordNet(language="eng")
    fast = fast_replacement_words(stock)
    assert fast is not None
    reader = fast.synonyms.reader
    words = sorted({w for t in load_dataset("sst2", data_dir).test.texts[:150] for w in t.split()})
    words += ["Running", "geese", "better", "was", "Dogs", "hardest", "ran", "New_York", "", "'s"]
    words += sorted(reader._lemma_pos_offset_map)[::40]
    assert len(words) > 4000
    first = {w: set(fast(w)) for w in words}  # read from the lines (nothing built yet for most)
    assert sum(map(len, first.values())) > 10_000
    for w in words:
        assert first[w] == set(stock._get_replacement_words(w)), w  # stock builds the synsets
    again = WordNetSynonyms(reader)
    assert all(set(again.replacement_words(w)) == first[w] for w in words[::7])
    assert {"awful", "dreadful", "atrocious"} <= set(fast("terrible"))

    class Other(WordSwapWordNet):  # a subclass may look words up otherwise: left to its own method
        pass

    assert fast_replacement_words(Other(language="eng")) is None
