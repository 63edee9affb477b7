"""flatbench: reproduce and extend FLAT (Chen & Ji, AAAI 2022)."""

__version__ = "0.1.0"
