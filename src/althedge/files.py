"""Writing results to disk: whole files or none, and one-line errors naming the path.

Every command that writes a report, JSON, HTML, CSV, PNG or Parquet file goes through
this module:

* :func:`check_targets` checks every target of a command *before* any is written (a
  multi-file output such as ``backtest --report R.html --png DIR`` writes all or nothing);
* :func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_path` write to a
  temporary file in the target's folder, ``fsync`` it and ``os.replace`` it into place, so
  a crash, a full disk or Ctrl-C leaves the previous file (or no file), never half a file;
* any ``OSError`` becomes an :class:`~althedge.errors.OutputError` (exit code 7) that says
  which option, which path, what is wrong and what to do, e.g.
  ``--report: cannot write README.md/r.html: README.md is a file, not a folder; pass a
  path inside a folder``.

Only the standard library and :mod:`althedge.errors` are imported (the CLI stays fast).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from althedge.errors import OutputError

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_dir",
    "check_targets",
    "format_number",
    "jsonable",
    "no_negative_zero",
    "output_error",
]


def _first_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def output_error(what: str, path: Path | str, exc: OSError | None = None,
                 problem: str | None = None) -> OutputError:
    """An :class:`OutputError` for ``what`` (the option or role, e.g. ``--report``) at
    ``path``: the problem in words and the fix."""
    path = Path(path)
    code = exc.errno if exc is not None else None
    if problem is None:
        blocker = _blocking_file(path)
        if blocker is not None:
            problem = f"{blocker} is a file, not a folder"
            fix = "pass a path inside a folder"
        elif code in (errno.EACCES, errno.EPERM):
            where = path if path.is_dir() else path.parent  # a folder target: itself
            problem = f"permission denied in {_first_existing(where)}"
            fix = "pass a folder you can write to"
        elif code == errno.EROFS:
            problem = "the file system is read-only"
            fix = "pass a path on a writable disk"
        elif code in (errno.ENOSPC, errno.EDQUOT):
            problem = "the disk is full"
            fix = "free some space or pass a path on another disk"
        elif code == errno.EISDIR or path.is_dir():
            problem = "it is a folder"
            fix = "pass a file name"
        elif code == errno.ENAMETOOLONG:
            problem = "the name is too long"
            fix = "pass a shorter path"
        else:
            problem = (exc.strerror or str(exc)).lower() if exc is not None else "not writable"
            fix = "pass another path"
    else:
        fix = ""
    text = f"{what}: cannot write {path}: {problem}"
    return OutputError(text + (f"; {fix}" if fix else ""))


def _blocking_file(path: Path) -> Path | None:
    """The first ancestor of ``path`` that exists and is a file (so no folder can be made)."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def _probe(folder: Path) -> OSError | None:
    """Create and remove a scratch file in the nearest existing folder of ``folder``: the
    error a real write would meet (permissions, read-only disk; root ignores mode bits)."""
    existing = _first_existing(folder)
    if not existing.is_dir():
        return OSError(errno.ENOTDIR, "Not a directory")
    try:
        fd, name = tempfile.mkstemp(prefix=".althedge-probe.", dir=existing)
    except OSError as exc:
        return exc
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


def check_targets(targets: Iterable[tuple[str, Path | str | None, bool]]) -> None:
    """Check every ``(what, path, is_folder)`` target before anything is written.

    A file target must not be a folder, a folder target must not be a file, no ancestor
    may be a file, and the nearest existing folder must be writable. Raises
    :class:`OutputError` for the first that fails; ``None`` paths are skipped.
    """
    for what, raw, is_folder in targets:
        if raw is None:
            continue
        path = Path(raw).expanduser()
        if str(raw) == "":
            raise output_error(what, path, problem="the path is empty; pass a file name")
        blocker = _blocking_file(path)
        if blocker is not None:
            raise output_error(what, path)
        if is_folder:
            if path.exists() and not path.is_dir():
                raise output_error(what, path, problem="it is a file, not a folder; pass a "
                                                       "folder (it is created if missing)")
            folder = path
        else:
            if path.is_dir():
                raise output_error(what, path)
            folder = path.parent
        problem = _probe(folder)
        if problem is not None:
            raise output_error(what, path, problem)


def check_dir(what: str, folder: Path | str) -> Path:
    """Create ``folder`` (and parents) or raise a one-line :class:`OutputError`."""
    path = Path(folder).expanduser()
    check_targets([(what, path, True)])
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(what, path, exc) from None
    return path


@contextlib.contextmanager
def atomic_path(path: Path | str, what: str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    For writers that want a file name (``frame.to_parquet(tmp)``, ``fig.write_image``).
    On any error the temporary file is removed and an ``OSError`` becomes an
    :class:`OutputError` naming ``what`` and ``path``.
    """
    target = Path(path).expanduser()
    check_targets([(what, target, False)])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise output_error(what, target, exc) from None
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fix_mode(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise output_error(what, target, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _fix_mode(tmp: Path) -> None:
    """mkstemp makes 0600 files; give the result the usual 0666 & ~umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)


def _fsync(tmp: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path | str, data: bytes, what: str) -> Path:
    """Write ``data`` to ``path`` whole or not at all; returns the path written."""
    target = Path(path).expanduser()
    with atomic_path(target, what) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return target


def atomic_write_text(path: Path | str, text: str, what: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all; returns the path written."""
    return atomic_write_bytes(path, text.encode("utf-8"), what)


def jsonable(value: Any) -> Any:
    """A value made JSON-safe, as every ``--json``, JSON file and ``/api`` answer writes it:
    NaN/inf → null, -0.0 → 0.0, dates → ISO text, enums → their value, paths → text, numpy scalars →
    Python numbers, objects with ``to_dict()`` → that dict (recursively)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    np = sys.modules.get("numpy")  # not imported here: only values that exist are converted
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        # JSON has no NaN/inf (null means "not applicable") and never says -0.0
        return value + 0.0 if math.isfinite(value) else None
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return jsonable(value.to_dict())
    return value


def no_negative_zero(value: Any) -> Any:
    """``value`` with every float ``-0.0`` made ``0.0`` (recursively through dicts and
    lists), nothing else changed: JSON never says ``"contracts": -0.0``."""
    if isinstance(value, float):
        return value + 0.0
    if isinstance(value, Mapping):
        return {k: no_negative_zero(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [no_negative_zero(v) for v in value]
    return value


_SPEC = re.compile(r"^(?P<head>(?:.?[<>=^])?[-+ ]?)z?(?P<tail>.*)$")


def format_number(value: Any, spec: str) -> str:
    """``format(value, spec)`` that never shows a negative zero: ``-0.0`` and values that
    round to zero at the spec's precision (−0.001 at ``.2f``) print ``0.00`` (``+0.00``
    with a ``+`` sign), as in the JSON (Python's ``z`` option, PEP 682)."""
    if not isinstance(value, float):
        return format(value, spec)
    m = _SPEC.match(spec)
    assert m is not None  # the pattern matches every string
    try:
        return format(value, f"{m['head']}z{m['tail']}")
    except ValueError:  # a spec without a float presentation type
        return format(value + 0.0, spec)
