"""althedge: hedge an altcoin portfolio against market-wide crashes with futures.

The public Python API is re-exported here; see README.md for a tour.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
