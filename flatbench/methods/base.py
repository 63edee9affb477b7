"""base: cross-entropy on the clean training set D."""

from flatbench.training.objectives import cross_entropy

NAME = "base"
USES_MASK = False
ADVERSARIAL = False  # no attack rounds


def batch_loss(bundle, batch, hp):
    logits = bundle.model(batch.ids)
    return cross_entropy(logits, batch.y), {}
