"""One training run: minibatch optimisation with model selection on clean dev accuracy."""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from flatbench.errors import ConfigError, TrainingError
from flatbench.hparams import resolve
from flatbench.training.hp import TRAIN


@dataclass
class Example:
    text: str
    label: int
    pairs: list | None = None  # (original word, substitute) list for an adversarial example


@dataclass
class Batch:
    ids: torch.Tensor
    y: torch.Tensor
    pair_words: list = field(default_factory=list)  # one pair list per adversarial example


def make_batches(bundle, examples: list[Example], batch_size: int, rng: random.Random, shuffle: bool = True):
    order = list(range(len(examples)))
    if shuffle:
        rng.shuffle(order)
    dev = bundle.device
    for i in range(0, len(order), batch_size):
        chunk = [examples[j] for j in order[i : i + batch_size]]
        ids = bundle.tokenizer.batch([e.text for e in chunk]).to(dev)
        y = torch.tensor([e.label for e in chunk], device=dev)
        yield Batch(ids, y, [e.pairs for e in chunk if e.pairs])


def accuracy(bundle, split, batch_size: int = 512) -> float:
    if len(split) == 0:
        return float("nan")
    return float((bundle.predict(split.texts, batch_size) == np.asarray(split.labels)).mean())


def train(bundle, method, examples: list[Example], dev_split, hp, seed: int,
          progress: str | None = None) -> dict:
    """Train `bundle.model` in place with `method.batch_loss`; keep the best dev epoch. ``hp``:
    the cell's resolved view (or a plain dict: the loop's declared defaults fill the rest).

    Returns a history dict (per-epoch loss and dev accuracy, best epoch)."""
    hp = resolve(hp, TRAIN)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = bundle.model
    params = [p for p in model.parameters() if p.requires_grad]
    opt_name = hp.optimizer.lower()
    try:
        lr = hp.lr
        if opt_name == "adamw":
            opt = torch.optim.AdamW(params, lr=lr, weight_decay=hp.weight_decay)
        elif opt_name == "adam":
            opt = torch.optim.Adam(params, lr=lr)
        else:
            raise ValueError(f"unknown optimizer {opt_name!r}; valid: adam, adamw")
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{progress or 'training'}: {e}") from None
    epochs, bs, clip = hp.epochs, hp.batch_size, hp.grad_clip
    history = {"epoch_loss": [], "dev_acc": [], "extra": []}
    best = (-1.0, -1, None)
    for epoch in range(epochs):
        model.train()
        tot, n = 0.0, 0
        extra: dict[str, float] = {}
        batches = make_batches(bundle, examples, bs, rng)
        for batch in tqdm(batches, total=math.ceil(len(examples) / bs), leave=False,
                          desc=f"{progress or 'train'} ep{epoch + 1}/{epochs}", disable=None):
            with bundle.autocast():  # bf16 when the model was built so; backward outside it
                loss, logs = method.batch_loss(bundle, batch, hp)
            if not torch.isfinite(loss):
                raise TrainingError(f"{progress or 'training'}: loss became {float(loss)} in epoch {epoch + 1} "
                                    f"(lr {lr}); lower the learning rate")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            k = len(batch.y)
            tot += float(loss.detach()) * k
            n += k
            for key, v in logs.items():
                extra[key] = extra.get(key, 0.0) + v * k
        acc = accuracy(bundle, dev_split)
        history["epoch_loss"].append(tot / max(n, 1))
        history["dev_acc"].append(acc)
        history["extra"].append({k: v / max(n, 1) for k, v in extra.items()})
        if acc > best[0]:
            best = (acc, epoch, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[2])
    model.eval()
    history["best_epoch"] = best[1] + 1
    history["best_dev_acc"] = best[0]
    return history
