"""Hyper-parameters each model declares (torch-free, so plans and `--dry-run` never import
torch). Defaults are the builders' own; the table grids override them with the paper's settings."""

from flatbench.declared import P

_MAX_LEN = P(None, "int", "tokens kept; none: the dataset's default (authors' README: 50, IMDB 250)",
             lo=1, none=True)
_MASK_HIDDEN = P(100, "int", "hidden units of the variational word-mask network (FLAT only)", lo=1)

WORD = {
    "embedding": P("glove50", "str", "pretrained word vectors (offline: glove50; paper: word2vec300)",
                   choices=("glove50", "word2vec300")),
    "vocab_extra": P(0, "int", "frequent embedding words added to the training vocabulary", lo=0),
    "freeze_emb": P(True, "bool", "keep the word vectors fixed"),
    "max_len": _MAX_LEN,
    "mask_hidden": _MASK_HIDDEN,
}
LSTM = {**WORD, "hidden": P(150, "int", "LSTM hidden size", lo=1),
        "dropout": P(0.3, "float", "dropout before the output layer", lo=0, hi=1, open_hi=True)}
CNN = {**WORD, "filters": P(100, "int", "filters per width (Kim 2014)", lo=1),
       "widths": P([3, 4, 5], "ints", "filter widths", lo=1),
       "dropout": P(0.5, "float", "dropout before the output layer", lo=0, hi=1, open_hi=True)}
TRANSFORMER = {
    "pretrained": P(None, "str", "local copy or hub id of the weights; none: the model's hub id", none=True),
    "tiny": P(False, "bool", "a tiny randomly initialised config of the real class (tests, CI)"),
    "tiny_vocab": P(2000, "int", "vocabulary of the tiny config", lo=1),
    "max_len": _MAX_LEN,
    "mask_hidden": _MASK_HIDDEN,
    # bf16 changes the numbers (so the keys); IG always runs in float32 (flatbench.interpret.ig)
    "precision": P("fp32", "str", "bf16: torch.autocast(bfloat16) for training and inference (GPU "
                   "use; CPU autocast works, slowly); fp32: none", choices=("fp32", "bf16")),
}
MINILM = {**TRANSFORMER, "dropout": P(0.1, "float", "dropout before the head", lo=0, hi=1, open_hi=True)}
