"""PWWS's WordNet synonyms without building NLTK synsets: the same set, a fraction of the time.

TextAttack's ``WordSwapWordNet._get_replacement_words(word)`` (language "eng") is

    {name for syn in wordnet.synsets(word, lang="eng") for name in syn.lemma_names(lang="eng")
     if name != word and "_" not in name and is_one_word(name)}

returned as a list (a set's order, which TextAttack then sorts away: ``Attack`` sorts the
transformed texts, flatbench.attacks.greedy its candidates). ``synsets`` finds the (part of
speech, offset) pairs of the word's base forms (NLTK's ``_morphy`` over its parsed index) and
builds a full ``Synset`` from each data-file line: gloss, examples, every lemma with its sense
key data, every pointer and verb frame, each through NLTK's regex guard. Only the lemma names are
read. Here the pairs come from the same ``_morphy`` and index, and the names from the line's
word fields, with the syntactic marker stripped by the pattern NLTK uses (``(.*?)(\\([^()]*\\))?$``).
A synset NLTK has already built is read from its cache; a line that does not parse as NLTK's
parser expects (not one "|", an offset that does not match) is left to NLTK, so its warning or
error is stock's. ``tests/test_attack_resources.py`` compares the sets with stock's on a sample
of WordNet's index and SST2's words, ``benchmarks/wordnet_synonyms.py check`` on every lemma and
every test-split word of the four datasets (653,308 words, 0 differences). The runner
(flatbench.attacks.runner.accelerate) uses it for exactly ``WordSwapWordNet`` in English.
"""

from __future__ import annotations

import re

_MARKER = re.compile(r"(.*?)(\([^()]*\))?$")  # nltk WordNetCorpusReader._synset_from_pos_and_line


class WordNetSynonyms:
    """``replacement_words(word)`` of a ``WordSwapWordNet(language="eng")`` over ``reader``."""

    def __init__(self, reader):
        from nltk.corpus.reader.wordnet import POS_LIST
        from textattack.shared.utils import is_one_word

        self.reader, self.pos_list, self.is_one_word = reader, tuple(POS_LIST), is_one_word
        self._names: dict = {}  # (pos, offset) -> lemma names, in the line's order

    def lemma_names(self, pos: str, offset: int) -> list:
        key = (pos, offset)
        names = self._names.get(key)
        if names is None:
            names = self._names[key] = self._read(pos, offset)
        return names

    def _read(self, pos: str, offset: int) -> list:
        r = self.reader
        built = r._synset_offset_cache[pos].get(offset)
        if built is None:
            f = r._data_file(pos)
            f.seek(offset)
            line = f.readline()
            f.seek(0)
            fields = line.strip().split("|")
            cols = fields[0].split() if len(fields) == 2 else []
            if len(cols) >= 4 and line[:8] == f"{offset:08d}" and int(cols[0]) == offset:
                n = int(cols[3], 16)
                words = cols[4:4 + 2 * n:2]
                if len(words) == n:
                    return [_MARKER.match(w).group(1) for w in words]
            built = r.synset_from_pos_and_offset(pos, offset)  # NLTK's own path: its warning or error
        return built.lemma_names(lang="eng")

    def replacement_words(self, word: str) -> list:
        r, out = self.reader, set()
        lemma, index = word.lower(), r._lemma_pos_offset_map
        for p in self.pos_list:
            for form in r._morphy(lemma, p, True):
                for offset in index[form].get(p, []):
                    for name in self.lemma_names(p, offset):
                        if name != word and "_" not in name and self.is_one_word(name):
                            out.add(name)
        return list(out)


def fast_replacement_words(transformation):
    """A drop-in for ``transformation._get_replacement_words`` where it is exactly TextAttack's
    ``WordSwapWordNet`` in English over NLTK's WordNet reader; None otherwise."""
    try:
        from textattack.transformations.word_swaps import word_swap_wordnet as m
    except ImportError:
        return None
    if type(transformation) is not m.WordSwapWordNet or getattr(transformation, "language", None) != "eng":
        return None
    reader = m.wordnet  # NLTK's lazy loader until first used; reading an attribute loads it
    if not hasattr(reader, "_lemma_pos_offset_map") or not hasattr(reader, "_morphy"):
        return None
    fast = WordNetSynonyms(reader)

    def _get_replacement_words(word, random=False):  # stock's signature; `random` is unused there too
        return fast.replacement_words(word)

    _get_replacement_words.synonyms = fast
    return _get_replacement_words
