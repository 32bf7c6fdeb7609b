"""Lua scripts live in ``.lua`` files beside the module that runs them (shipped in the wheel)."""

from __future__ import annotations

from importlib.resources import files


def script(module: str, name: str) -> str:
    """The text of ``name``, a ``.lua`` file in the package of ``module`` (pass ``__name__``)."""
    return files(module.rpartition(".")[0]).joinpath(name).read_text(encoding="utf-8")
