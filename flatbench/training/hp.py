"""Hyper-parameters of the training loop and of the adversarial rounds (torch-free)."""

from flatbench.hparams import P

TRAIN = {
    "lr": P(0.001, "float", "learning rate", lo=0, open_lo=True),
    "epochs": P(10, "int", "epochs of round 0 (the best dev epoch is kept)", lo=1),
    "batch_size": P(64, "int", "examples per step", lo=1),
    "optimizer": P("adam", "str", "optimiser", choices=("adam", "adamw")),
    "weight_decay": P(0.01, "float", "AdamW weight decay (Adam ignores it)", lo=0),
    # type only: NaN is how the tests provoke a diverging run
    "grad_clip": P(5.0, "float", "gradient-norm clip", finite=False),
    "train_n": P(None, "int", "seeded random subset of the training set; none: all", lo=1, none=True),
}
ROUNDS = {
    "rounds": P(3, "int", "attack/retrain rounds of adv and FLAT", lo=0),
    "round_epochs": P(None, "int", "epochs of each round > 0; none: epochs", lo=1, none=True),
    "round_lr": P(None, "float", "learning rate of each round > 0; none: lr", lo=0, open_lo=True, none=True),
    "adv_examples": P("replace", "str", "D' of the latest round only (TextAttack Trainer behaviour)",
                      choices=("replace",)),
    "attack_train_n": P(None, "int", "training examples attacked per round; none: the dataset's "
                        "default (all for SST2/TREC, 10,000 for IMDB/AG)", lo=1, none=True),
}
