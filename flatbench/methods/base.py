"""base: cross-entropy on the clean training set D."""

NAME = "base"
USES_MASK = False
ADVERSARIAL = False  # no attack rounds


def batch_loss(bundle, batch, hp):
    from flatbench.training.objectives import cross_entropy  # torch: only when training (plans stay torch-free)

    logits = bundle.model(batch.ids)
    return cross_entropy(logits, batch.y), {}
