from flatbench.data.datasets import DATASETS, Dataset, Split, load_dataset, resolve_data_dir

__all__ = ["DATASETS", "Dataset", "Split", "load_dataset", "resolve_data_dir"]
