"""Executors run the ready stages of a plan; stages never know which one runs them."""

from flatbench.errors import UnknownNameError

EXECUTORS = ("local", "ray")


def get_executor(name: str, **kw):
    if name == "local":
        from flatbench.executors.local import LocalExecutor

        return LocalExecutor(**kw)
    if name == "ray":
        from flatbench.executors.ray import RayExecutor

        return RayExecutor(**kw)
    raise UnknownNameError("executor", name, EXECUTORS)
