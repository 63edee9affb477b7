"""Bodies of the train and evaluate stages (the plan and keys live in flatbench.stages). Torch is
imported when a body runs, never at import: planning stays torch-free."""

from __future__ import annotations

from pathlib import Path

from flatbench.data.datasets import load_dataset
from flatbench.data.splits import data_for
from flatbench.registry import MODELS
from flatbench.settings import cell_hp


def run_train_stage(stage, ctx, out: Path, inputs: list[Path]) -> tuple[dict, list[str], dict]:
    """Round 0 trains from scratch on D; round k > 0 fine-tunes round k-1 (inputs[0]) on D ∪ D'_k,
    the adversarial examples of inputs[1]."""
    from flatbench.models.bundle import ModelBundle
    from flatbench.training.adversarial import adversarial_examples
    from flatbench.training.loop import Example, accuracy, train

    c, hp, method = stage.cell, cell_hp(stage.cell), stage.method
    ds, train_split, devs = data_for(c, ctx)
    examples = [Example(t, int(y)) for t, y in zip(train_split.texts, train_split.labels)]
    if stage.round == 0:
        bundle = MODELS.get(c.model).build(ds, hp, c.seed, mask=method.USES_MASK)
        bundle.model.to(ctx.device)
        thp = hp
    else:
        bundle = ModelBundle.load(inputs[0], ctx.device)
        adv, adv_stats = adversarial_examples(inputs[1])
        examples += adv
        thp = hp.replace(epochs=hp.round_epochs or hp.epochs, lr=hp.round_lr or hp.lr)
    if method.USES_MASK and hp.masks_fixed:
        bundle.model.mask.fixed_ones = True
    hist = train(bundle, method, examples, ds.dev, thp, c.seed + stage.round, progress=stage.label())
    bound = synonym_bound(c, hp, method)
    if bound is not None:  # SAFER, ASCC: which attack bound their synonym sets follow
        bundle.config["synonym_bound"] = bound
        devs = [*devs, f"{method.NAME}: synonym sets N(w) at cos >= {bound['min_cos']:g}, {bound['source']}"]
    bundle.deviations = sorted(set(bundle.deviations) | set(devs))
    bundle.save(out)
    metrics = {"dev_acc": hist["best_dev_acc"], "best_epoch": hist["best_epoch"],
               "train_examples": len(examples), "train_acc": accuracy(bundle, train_split)}
    if stage.round > 0:
        metrics.update({f"adv_{k}": v for k, v in adv_stats.items()})
    for i, (loss, acc) in enumerate(zip(hist["epoch_loss"], hist["dev_acc"])):
        metrics[f"epoch{i + 1}_loss"], metrics[f"epoch{i + 1}_dev_acc"] = loss, acc
    return metrics, bundle.deviations, {"history": hist}


def synonym_bound(cell, hp, method) -> dict | None:
    """{min_cos, source} for a method that reads the attacks' synonym space (declares
    ``synonym_min_cos``): the number the cell resolved and where it came from; else None."""
    if "synonym_min_cos" not in getattr(method, "HP", {}):
        return None
    if cell.hp.get("synonym_min_cos") is not None:
        how = "pinned by the cell (synonym_min_cos)"
    else:
        from flatbench.attacks.synonyms import attack_bound

        how = attack_bound(hp.attack_bounds, cell.dataset)[1]
    return {"min_cos": float(hp.synonym_min_cos), "source": how}


def run_evaluate_stage(stage, ctx, out: Path, inputs: list[Path]) -> tuple[dict, list[str], dict]:
    """Clean accuracy of the trained model (inputs[0]) on the test and dev splits."""
    from flatbench.models.bundle import ModelBundle
    from flatbench.training.loop import accuracy

    ds = load_dataset(stage.model.cell.dataset, ctx.data_dir)
    bundle = ModelBundle.load(inputs[0], ctx.device)
    m = {"test_acc": accuracy(bundle, ds.test), "dev_acc": accuracy(bundle, ds.dev), "test_n": len(ds.test)}
    return m, [], {}
