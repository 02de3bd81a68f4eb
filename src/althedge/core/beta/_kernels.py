"""Private fast kernels of the rolling estimators: trailing window sums, centring and
the blocked rolling OLS product (memory O(T·N), no T×window arrays)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from althedge.core.beta._common import FloatArray
from althedge.errors import InputError


def _rolling_inputs(
    asset_returns: Any, hedge_returns: Any, window: int | None
) -> tuple[FloatArray, FloatArray, bool, Any]:
    """(y as T×N, x as T, whether the input was 1-D, a function restoring pandas shape)."""
    if window is not None and (isinstance(window, bool) or int(window) != window or window < 2):
        raise InputError(f"window: must be an integer ≥ 2 rows, got {window!r}")
    restore: Any = None
    if isinstance(asset_returns, pd.DataFrame | pd.Series):
        index = asset_returns.index
        if isinstance(hedge_returns, pd.Series | pd.DataFrame) and not hedge_returns.index.equals(
            index
        ):
            hedge_returns = hedge_returns.reindex(index)
        if isinstance(asset_returns, pd.DataFrame):
            columns = asset_returns.columns

            def restore(values: FloatArray) -> Any:
                # the values are ours: no copy (pandas ≥ 3 copies by default)
                return pd.DataFrame(values, index=index, columns=columns, copy=False)

        else:
            name = asset_returns.name

            def restore(values: FloatArray) -> Any:
                return pd.Series(values, index=index, name=name, copy=False)

    y = np.asarray(asset_returns, dtype=np.float64)
    x = np.asarray(hedge_returns, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise InputError(f"hedge_returns: expected one series, got shape {x.shape}")
    one_d = y.ndim == 1
    if one_d:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise InputError(
            f"asset_returns: expected shape ({x.shape[0]},) or ({x.shape[0]}, N) to match "
            f"hedge_returns, got {y.shape}"
        )
    return y, x, one_d, restore


def _finish(out: FloatArray, one_d: bool, restore: Any) -> Any:
    res = out[:, 0] if one_d else out
    return restore(res) if restore is not None else res


def _window_sum(v: FloatArray, w: int) -> FloatArray:
    """Sums over the trailing ``w`` rows, for rows ≥ w − 1 (earlier rows hold partial sums).

    Prefix sums restart every ``w`` rows (blocks); a window spans at most two blocks, so
    its sum is (suffix of the previous block) + (prefix of the current one). Every
    difference involves at most one block's worth of terms, so the rounding error is
    that of summing ~w numbers — it does not grow with the length of the series, unlike
    a single global cumulative sum.
    """
    t = v.shape[0]
    nb = -(-t // w)
    pad = nb * w - t
    if pad:
        v = np.concatenate([v, np.zeros((pad, *v.shape[1:]), dtype=np.float64)])
    p = v.reshape((nb, w, *v.shape[1:])).cumsum(axis=1)
    if nb > 1:
        p[1:] += p[:-1, -1:] - p[:-1]
    return p.reshape((nb * w, *v.shape[1:]))[:t]


def _centred(values: FloatArray, valid: npt.NDArray[np.bool_], upto: int) -> FloatArray:
    """Values minus their column mean over the valid rows among the first ``upto``, 0 where
    invalid. Covariances are shift-invariant; centring keeps the moment sums free of
    cancellation, and taking the reference from the first rows only keeps every later
    result independent (to the last bit) of rows after it."""
    head = slice(0, max(1, upto))
    filled = np.where(valid[head], values[head], 0.0)
    count = valid[head].sum(axis=0)
    mean = filled.sum(axis=0) / np.maximum(count, 1)
    return np.where(valid, values - mean, 0.0)


_CHUNK_COLUMNS = 64
#: From this many columns the rolling downside beta sums windows by one BLAS product per
#: chunk of windows (measured: 5× faster at 300 columns, on par at 16, slower below).
_BAND_MIN_COLUMNS = 16


def _block_size(w: int) -> int:
    """Block length b (a divisor of the window) for the blocked rolling beta.

    The main product costs 2·(2b + 2) flops per output value, the per-block bookkeeping
    (Python iterations, small products, window sums carried between blocks) shrinks as
    b grows; b ≈ 6 measured best for 500 × 20,000 with windows 90 and 720. Every window
    has a divisor ≤ 16 (b = 1 for primes above 16, still O(T·N)).
    """
    divisors = [b for b in range(1, 17) if w % b == 0]
    return min(divisors, key=lambda b: (abs(b - 6), -b))


#: Bytes of the per-chain working copy in ``_rolling_beta_blocked``: small enough to
#: stay in a core's L2 cache while its two products read it.
_STORE_BYTES = 1 << 20


def _round_sums(y: FloatArray, xc: FloatArray, w: int) -> FloatArray:
    """[Σy, Σy·xc] over each complete round of ``w`` rows (rows r·w … r·w + w − 1):
    shape (T // w, 2, N). ``einsum`` streams y once; a BLAS product with two output
    rows would first copy (pack) y and measured nearly twice as slow."""
    t, n = y.shape
    rounds = t // w
    sums = np.empty((rounds, 2, w))
    sums[:, 0] = 1.0
    sums[:, 1] = xc[: rounds * w].reshape(rounds, w)
    out: FloatArray = np.einsum("rkw,rwn->rkn", sums, y[: rounds * w].reshape(rounds, w, n))
    return out


def _rolling_beta_blocked(
    y: FloatArray,
    xc: FloatArray,
    mx: FloatArray,
    inv: FloatArray,
    w: int,
    b: int,
    rounds_sums: FloatArray,
) -> FloatArray:
    """β for rows ≥ w − 1 of C-contiguous (T, N) ``y`` (no NaN) against centred hedge
    returns ``xc``; ``mx`` the window mean of ``xc``, ``inv`` = 1/den (0 where flat),
    ``rounds_sums`` = :func:`_round_sums`. Rows < w − 1 of the result are garbage.

    Rows are cut in blocks of b (b divides w, q = w/b). With M_k = [Σy, Σy·xc] over the
    w rows before block k (rows (k−q)·b … k·b − 1), the window ending at row
    t = k·b + j has sums M_k − Σ_{i≤j} Y_{k−q,i}·(1, xc) + Σ_{i≤j} Y_{k,i}·(1, xc), and
    β_t = (S_xy − x̄_t·S_y)/den_t is linear in them: output block k is one small product
    K_k @ [Y_{k−q}; M_k; Y_k] with K_k (b × (2b + 2)) holding the per-row weights.
    Blocks are processed by chain (k mod q), each chain's blocks copied once into a
    small store laid out [M; Y] per block so the product reads [Y_{k−q}; M_k; Y_k] in
    place. M_{k+1} = M_k − (1, xc)·Y_{k−q} + (1, xc)·Y_k comes from two more rows of the
    same product, giving the next chain's M; chain 0's M_k (k = r·q) is the sum over the
    whole previous round of w rows (``rounds_sums``). So each M is carried over at most
    q blocks from an exact round sum (no error build-up over long series), y is read from
    memory twice (round sums, chain copies) and the result written once.
    """
    t, n = y.shape
    q = w // b
    nbf = t // b  # whole blocks
    tail = t - nbf * b
    nb = nbf + (1 if tail else 0)
    pad = nb * b - t

    def blocks(v: FloatArray) -> FloatArray:
        return (np.concatenate([v, np.zeros(pad)]) if pad else v).reshape(nb, b)

    x3 = blocks(xc)
    inv3 = blocks(inv)[q:]
    mxi3 = blocks(mx * inv)[q:]
    lower = np.tri(b, b, 0)  # [j, i] = 1 where i ≤ j: rows inside the partial sums
    wide = 2 * b + 2
    # K[k − q] = [−(xc·inv − x̄·inv) of Y_{k−q} | −x̄/den, 1/den | xc·inv − x̄·inv of Y_k]
    # (rows 0 … b − 1), then two rows giving M_{k+1} = M_k − (1, xc)·Y_{k−q} + (1, xc)·Y_k
    kmat = np.zeros((nb - q, b + 2, wide))
    kp = kmat[:, :b, :b]
    np.multiply(x3[:-q, None, :], inv3[:, :, None], out=kp)
    kp -= mxi3[:, :, None]
    np.multiply(kp, -lower, out=kp)
    np.negative(mxi3, out=kmat[:, :b, b])
    kmat[:, :b, b + 1] = inv3
    kc = kmat[:, :b, b + 2 :]
    np.multiply(x3[q:, None, :], inv3[:, :, None], out=kc)
    kc -= mxi3[:, :, None]
    kc *= lower
    kmat[:, b, :b] = -1.0
    np.negative(x3[:-q], out=kmat[:, b + 1, :b])
    kmat[:, b, b] = 1.0
    kmat[:, b + 1, b + 1] = 1.0
    kmat[:, b, b + 2 :] = 1.0
    kmat[:, b + 1, b + 2 :] = x3[q:]
    rows = b + 2
    # the result, two spare rows after it; ext[k] = block k's rows and the next two rows,
    # where chain c's product leaves M_{k+1} for chain c + 1 to pick up (and overwrite)
    buf = np.empty((nb * b + 2, n))
    item = buf.itemsize
    out3 = buf[: nb * b].reshape(nb, b, n)
    ext = np.lib.stride_tricks.as_strided(
        buf, shape=(nb, rows, n), strides=(b * n * item, n * item, item)
    )
    # with b = 1 the second spare row would fall on block k + 2: keep M aside instead
    spill = b >= 2
    m_cur = np.empty((0 if spill else -(-nb // q), 2, n))
    m_next = np.empty_like(m_cur)
    y3 = y[: nbf * b].reshape(nbf, b, n)
    ytail = np.zeros((b, n))
    ytail[:tail] = y[nbf * b :]
    seg = max(2, _STORE_BYTES // (rows * n * item))  # store slots (rounds) per fill
    store = np.empty((seg * rows, n))
    # slot i − 1's Y, slot i's M and Y: [Y_{k−q}; M_k; Y_k] in place
    views = np.lib.stride_tricks.as_strided(
        store[2:], shape=(seg - 1, wide, n), strides=(rows * n * item, n * item, item)
    )
    # rounds in segments that fit the store; within a segment chain c needs chain c − 1's
    # M, so chains go in order (segment-major keeps the rows just written in cache)
    for r0 in range(1, (nb - 1) // q + 1, seg - 1):
        for c in range(min(q, nb - q)):
            last = (nb - 1 - c) // q  # last round of chain c (block c + last·q)
            if r0 > last:
                break
            r1 = min(last, r0 + seg - 2)  # output rounds r0 … r1, slots rounds r0 − 1 … r1
            cnt = r1 - r0 + 2
            k0, k1 = c + r0 * q, c + r1 * q
            st3 = store[: cnt * rows].reshape(cnt, rows, n)
            if k1 < nbf:
                st3[:, 2:] = y3[k0 - q : k1 + 1 : q]
            else:
                st3[:-1, 2:] = y3[k0 - q : k1 : q]
                st3[-1, 2:] = ytail
            if c == 0:  # M_{r·q}: the whole previous round
                st3[1:, :2] = rounds_sums[r0 - 1 : r1]
            elif spill:  # left by chain c − 1 in the first two rows of these blocks
                st3[1:, :2] = ext[k0 : k1 + 1 : q, :2]
            else:
                st3[1:, :2] = m_cur[r0 : r1 + 1]
            kk = slice(k0 - q, k1 - q + 1, q)
            if c + 1 == q:
                np.matmul(kmat[kk, :b], views[: cnt - 1], out=out3[k0 : k1 + 1 : q])
            elif spill:
                np.matmul(kmat[kk], views[: cnt - 1], out=ext[k0 : k1 + 1 : q])
            else:
                np.matmul(kmat[kk, :b], views[: cnt - 1], out=out3[k0 : k1 + 1 : q])
                np.matmul(kmat[kk, b:], views[: cnt - 1], out=m_next[r0 : r1 + 1])
            m_cur, m_next = m_next, m_cur
    out = buf[:t]
    first = rounds_sums[0]  # the window of rows 0 … w − 1
    out[w - 1] = (first[1] - mx[w - 1] * first[0]) * inv[w - 1]
    return out


def _blank_windows(out: FloatArray, bad: npt.NDArray[np.bool_], w: int) -> None:
    """Set ``out[t, j]`` to NaN wherever rows t − w + 1 … t of column j hold a ``bad`` cell.

    A run of bad cells i0 … i1 − 1 in column j blanks rows i0 … i1 + w − 2 of it; runs
    are found from the 0/1 transitions of the columns that have a bad cell, and each is
    written as one slice. Cost O(T·columns with a bad cell + cells blanked); with very
    many runs a window count over the whole mask is used instead.
    """
    t = out.shape[0]
    hit = np.flatnonzero(bad.any(axis=0))
    if hit.size == 0:
        return
    sub = bad[:, hit].view(np.int8)
    zero = np.zeros((1, hit.size), dtype=np.int8)
    edge = np.diff(sub, axis=0, prepend=zero, append=zero) != 0
    at, which = np.divmod(np.flatnonzero(edge), hit.size)
    if at.size > 2 * 4096:
        out[_window_sum(bad.astype(np.float64), w) > 0.5] = np.nan
        return
    order = np.lexsort((at, which))  # by column, then row: start, stop, start, stop, …
    at, which = at[order], which[order]
    cols = hit[which[::2]].tolist()
    for j, start, stop in zip(cols, at[::2].tolist(), at[1::2].tolist(), strict=True):
        out[start : min(t, stop + w - 1), j] = np.nan


