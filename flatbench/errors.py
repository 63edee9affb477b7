"""Exceptions with one-line messages; the CLI turns them into exit code 2."""


class FlatbenchError(Exception):
    """Base class: the message is shown to the user as one line."""


class UnknownNameError(FlatbenchError):
    def __init__(self, kind: str, name: str, valid):
        valid = sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid: {', '.join(valid)}")
        self.kind, self.name, self.valid = kind, name, valid


class DataError(FlatbenchError):
    """Missing, malformed or empty data."""


class ResourceMissingError(FlatbenchError):
    """A resource (weights, corpus, embedding) is not available offline."""


class TrainingError(FlatbenchError):
    """Training diverged (NaN loss) or was misconfigured."""


class ConfigError(FlatbenchError):
    """A grid or cell specification is invalid."""


class CacheError(FlatbenchError):
    """The stage cache cannot be written, or one of its entries cannot be read."""
