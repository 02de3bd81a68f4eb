"""`althedge calc hedge`: the seed's hedge-size calculator (placeholder, being written)."""

from __future__ import annotations


def hedge() -> None:
    """Hedge size for a portfolio value and beta (not yet implemented)."""
    raise NotImplementedError
