"""Models: one file per architecture (`lstm`, `cnn`, `transformers`), their builders (`word`,
`transformers`), the bundle a stage saves (`bundle`) and the declared hyper-parameters (`hp`,
torch-free). This package's own import is torch-free, so planning can read `hp`."""
