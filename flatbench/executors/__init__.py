"""Executors run the ready stages of a plan; stages never know which one runs them."""

from flatbench.errors import UnknownNameError
from flatbench.executors.local import LocalExecutor

EXECUTORS = ("local", "ray")


def get_executor(name: str, **kw):
    if name == "local":
        return LocalExecutor(**kw)
    if name == "ray":
        from flatbench.executors.ray import RayExecutor  # Ray is optional: imported only when chosen

        return RayExecutor(**kw)
    raise UnknownNameError("executor", name, EXECUTORS)
