"""Training methods `base`, `adv`, `flat` (one module each); see flatbench.registry."""
