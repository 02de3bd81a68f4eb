"""Market data: sources (bundled, files, ccxt), the Parquet cache and quality checks.

See docs/data.md. Public names (docs/internal-api.md, section data/)::

    PriceSource, open_source, bundled_source, FileSource,
    Finding, check_series, check_closes, exclude_error_series, require_usable
"""

from althedge.data.quality import (
    Finding,
    check_closes,
    check_series,
    exclude_error_series,
    has_errors,
    require_usable,
)
from althedge.data.sources import FileSource, PriceSource, bundled_source, open_source

__all__ = [
    "FileSource",
    "Finding",
    "PriceSource",
    "bundled_source",
    "check_closes",
    "check_series",
    "exclude_error_series",
    "has_errors",
    "open_source",
    "require_usable",
]
