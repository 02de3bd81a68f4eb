"""Import on first use: a module behind a name, or a package's public names (PEP 562).

Used where start-up matters (the CLI's answers: benchmarks/README.md): ``import althedge``
and ``import althedge.exchanges`` import a name's module only when the name is first read,
and the core's number path (core/numeric.py) imports numpy only when an array comes in.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["LazyModule", "lazy_getattr"]


class LazyModule:
    """The module ``name``, imported on the first attribute read; each attribute is then
    cached on this object, so later reads cost one instance-dict lookup."""

    def __init__(self, name: str) -> None:
        self._module_name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self._module_name), attr)
        setattr(self, attr, value)
        return value


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name of ``exports`` (name → the full
    name of the module defining it) is imported when first read, then kept on the package."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
