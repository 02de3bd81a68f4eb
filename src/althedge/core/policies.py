"""Hedge policies: from return histories to a target hedge ratio at every bar (pure).

A policy turns the history up to bar ``t`` into the hedge ratio decided at the close of
``t`` (USD short per USD of portfolio, per hedge instrument). Policies
(``docs/backtest.md`` explains each and the evidence behind ``auto``):

* ``none`` — no hedge (β = 0);
* ``static:B`` — a fixed beta, e.g. ``static:1.8`` (the seed article's example);
  ``static`` alone — the seed's class table (:func:`core.beta.class_default_beta`),
  value-weighted over the holdings at ``t``;
* ``one-to-one`` — β = 1 (a dollar of short per dollar held);
* ``rolling-ols[:W]`` — OLS beta over the trailing ``W`` bars (:func:`core.beta.rolling_beta`);
* ``ewma[:H]`` — EWMA beta with half-life ``H`` bars (:func:`core.beta.rolling_ewma_beta`);
* ``downside[:W]`` — Ang–Chen–Xing downside beta (:func:`core.beta.rolling_downside_beta`);
* ``robust[:W]`` — Huber M-estimate over the trailing ``W`` bars
  (:func:`core.beta.rolling_robust_beta`);
* ``conservative[:W]`` — the larger of the rolling OLS and downside betas;
* ``shrunk[:W]`` — per-holding rolling OLS betas shrunk toward the cross-section
  (Vasicek, :func:`core.beta.shrunk_betas`), value-weighted at ``t``;
* ``multi[:W]`` — BTC and ETH at once, minimum-variance weights b = Σ_hh⁻¹ Σ_hp over
  the trailing ``W`` bars (the rolling form of :func:`core.beta.min_variance_weights`);
* ``auto`` — the policy that won out of sample on the shared data
  (:data:`AUTO_POLICY`; :data:`AUTO_FALLBACK` without ETH prices; evidence in
  ``docs/backtest.md``).

Returns are simple returns aligned with prices: row ``t`` is ``P_t/P_{t−1} − 1`` and row 0
is NaN. No look-ahead: every estimator here uses rows ≤ t for row t (tested by
perturbing the future and checking the past does not change).
Negative estimated ratios are clipped to 0 (a long hedge would add risk, and the
product only shorts); ``multi`` solves the shorts-only minimum variance instead (a
negative leg is dropped and the other refitted alone).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from althedge.core.beta import class_default_beta, rolling_beta, shrunk_betas
from althedge.core.estimators import ESTIMATORS, policy_estimator
from althedge.errors import InputError

__all__ = [
    "AUTO_FALLBACK",
    "AUTO_INTRADAY_DAYS",
    "AUTO_POLICY",
    "DEFAULT_HALFLIFE",
    "DEFAULT_WINDOW",
    "POLICY_KINDS",
    "PolicySpec",
    "PolicyTargets",
    "parse_policy",
    "rolling_beta_std_error",
    "rolling_min_variance_weights",
    "target_ratios",
]

FloatArray = npt.NDArray[np.float64]

#: Policy kinds: the fixed ones, then one per estimator of the registry
#: (:data:`althedge.core.estimators.ESTIMATORS`), then BTC+ETH minimum variance and auto.
POLICY_KINDS = (
    "none", "static", "one-to-one", *(e.policy for e in ESTIMATORS), "multi", "auto",
)
DEFAULT_WINDOW = 90  # bars (days on daily data): the planner's default lookback
DEFAULT_HALFLIFE = 30.0  # bars

# ``auto`` is hard-wired to the winner of the walk-forward comparison on ../shared/data
# (daily, every alt alone and an equal-weight basket, weekly rebalancing, fees, funding;
# chosen on 2018–2021, confirmed on 2022–2025): BTC+ETH minimum-variance over 90 bars.
# Evidence, numbers and the command that produced them: docs/backtest.md, section
# "Why auto = multi:90". Change it only with new evidence recorded there.
AUTO_POLICY = "multi:90"
# Used by ``auto`` when ETH prices are not available: the measured single-instrument
# estimator that tied for best (with the unmeasured one-to-one) in the same comparison
# (docs/backtest.md, same section).
AUTO_FALLBACK = "ewma:60"
# On intraday bars ``auto`` (BTC+ETH minimum variance) uses a 30-day window: the winner of
# the hourly walk-forward (182 baskets of the shared coins, chosen on 2021-04 → 2023-06,
# confirmed on 2023-07 → 2025-12, net of fees, slippage and each leg's funding; hourly
# minimum variance over 30 days beat 60 and 14 days and the daily 90-day window).
# Evidence and command: docs/backtest.md, section "Hourly estimates: walk-forward".
AUTO_INTRADAY_DAYS = 30


@dataclass(frozen=True)
class PolicySpec:
    """A parsed policy name: ``kind`` plus its parameter (beta, window or half-life)."""

    name: str  # as shown to the user, e.g. "rolling-ols:90"
    kind: str
    beta: float | None = None  # static
    window: int | None = None  # window estimators (rolling-ols, downside, robust, …), multi
    halflife: float | None = None  # ewma
    resolved_from: str | None = None  # "auto" when this spec is auto's winner

    def hedge_assets(self, primary: str = "BTC") -> tuple[str, ...]:
        """Hedge instruments this policy trades (multi: BTC and ETH; else ``primary``)."""
        return ("BTC", "ETH") if self.kind == "multi" else (primary,)

    @property
    def warmup(self) -> int:
        """Bars before the first estimate (window; a few half-lives for EWMA)."""
        if self.window is not None:
            return self.window
        if self.halflife is not None:
            return max(2, math.ceil(2 * self.halflife))
        return 1


def _number(text: str, what: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"policy {name!r}: {text!r} is not a number; e.g. {what}") from None
    if not math.isfinite(value):
        raise InputError(f"policy {name!r}: {text!r} must be finite; e.g. {what}")
    return value


def parse_policy(
    name: str,
    *,
    window: int = DEFAULT_WINDOW,
    halflife: float = DEFAULT_HALFLIFE,
    single_instrument: bool = False,
) -> PolicySpec:
    """Parse ``static:1.8``, ``rolling-ols:60``, ``ewma``, ``auto``… (see module docstring).

    ``window``/``halflife`` are the defaults for policies given without a parameter;
    ``single_instrument=True`` resolves ``auto`` to :data:`AUTO_FALLBACK` (no ETH data).
    Raises :class:`InputError` naming the policy and the fix.
    """
    text = str(name).strip().lower().replace("_", "-")
    kind, _, arg = text.partition(":")
    aliases = {"ols": "rolling-ols", "rolling": "rolling-ols", "1:1": "one-to-one",
               "onetoone": "one-to-one", "min-variance": "multi", "static-beta": "static"}
    kind = aliases.get(kind, kind)
    if kind not in POLICY_KINDS:
        raise InputError(
            f"policy: unknown policy {name!r}; use one of {', '.join(POLICY_KINDS)} "
            "(e.g. static:1.8, rolling-ols:90, ewma:30)"
        )
    if window < 3:
        raise InputError(f"window: must be at least 3 bars, got {window}; e.g. --window 90")
    if not halflife > 0:
        raise InputError(f"halflife: must be > 0 bars, got {halflife}; e.g. --halflife 30")
    if kind == "auto":
        if arg:
            raise InputError("policy 'auto' takes no parameter; pass it as plain 'auto'")
        winner = AUTO_FALLBACK if single_instrument else AUTO_POLICY
        spec = parse_policy(winner, window=window, halflife=halflife)
        return PolicySpec(
            name="auto", kind=spec.kind, beta=spec.beta, window=spec.window,
            halflife=spec.halflife, resolved_from=spec.name,
        )
    if kind in ("none", "one-to-one"):
        if arg:
            raise InputError(f"policy {kind!r} takes no parameter; pass it as plain {kind!r}")
        return PolicySpec(name=kind, kind=kind, beta=0.0 if kind == "none" else 1.0)
    if kind == "static":
        if not arg:
            return PolicySpec(name="static", kind="static", beta=None)
        b = _number(arg, "static:1.8", name)
        if b < 0:
            raise InputError(f"policy {name!r}: a static beta must be ≥ 0; e.g. static:1.8")
        return PolicySpec(name=f"static:{b:g}", kind="static", beta=b)
    est = policy_estimator(kind)
    if est is not None and est.parameter == "halflife":
        h = _number(arg, f"{kind}:30", name) if arg else float(halflife)
        if h <= 0:
            raise InputError(f"policy {name!r}: the half-life must be > 0 bars; e.g. {kind}:30")
        return PolicySpec(name=f"{kind}:{h:g}", kind=kind, halflife=h)
    w = _number(arg, f"{kind}:90", name) if arg else float(window)
    if w != int(w) or w < 3:
        raise InputError(f"policy {name!r}: the window must be a whole number ≥ 3 bars; "
                         f"e.g. {kind}:90")
    return PolicySpec(name=f"{kind}:{int(w)}", kind=kind, window=int(w))


@dataclass
class PolicyTargets:
    """Target hedge ratios per hedge instrument, each (T, N); NaN = no estimate yet.

    ``std_error`` (T, N): standard error of the OLS beta used for the confidence band
    (NaN where not applicable). ``assumed``: True when the ratio is not measured
    (static, class table).
    """

    ratios: dict[str, FloatArray]
    std_error: FloatArray | None = None
    assumed: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def first_valid(self) -> int:
        """First row where every instrument's ratio is finite in every column."""
        ok = np.ones(next(iter(self.ratios.values())).shape[0], dtype=bool)
        for r in self.ratios.values():
            ok &= np.all(np.isfinite(r), axis=1)
        idx = np.flatnonzero(ok)
        return int(idx[0]) if idx.size else ok.size


def _window_sums(v: FloatArray, w: int) -> FloatArray:
    """Trailing sums of ``w`` rows (rows < w−1 hold partial sums; callers mask them)."""
    c = np.cumsum(v, axis=0)
    out = c.copy()
    out[w:] = c[w:] - c[:-w]
    return out


def _centre(v: FloatArray) -> FloatArray:
    ok = np.isfinite(v)
    mean = np.where(ok, v, 0.0).sum(axis=0) / np.maximum(ok.sum(axis=0), 1)
    return np.where(ok, v - mean, np.nan)


def rolling_beta_std_error(
    asset_returns: FloatArray, hedge_returns: FloatArray, window: int
) -> FloatArray:
    """Standard error of the rolling OLS beta, same rows as :func:`core.beta.rolling_beta`.

    Homoscedastic OLS (as :func:`core.beta.ols_beta`): se = sqrt(SSR/(n−2)/Sxx), with
    centred window sums Sxx = Σ(x−x̄)², Sxy, Syy and SSR = Syy − Sxy²/Sxx. NaN for
    windows with missing data or fewer than ``window`` rows. Shape (T,) or (T, N).
    """
    y = np.asarray(asset_returns, dtype=float)
    one_d = y.ndim == 1
    y2 = y[:, None] if one_d else y
    x = np.asarray(hedge_returns, dtype=float)
    w = int(window)
    t = x.shape[0]
    out = np.full(y2.shape, np.nan)
    if t < w or w < 3:
        return out[:, 0] if one_d else out
    xc = _centre(x)
    x_bad = ~np.isfinite(xc)
    for lo in range(0, y2.shape[1], 64):  # column blocks stay in cache
        hi = min(y2.shape[1], lo + 64)
        yc = _centre(y2[:, lo:hi])
        bad = ~np.isfinite(yc) | x_bad[:, None]
        yz = np.where(bad, 0.0, yc)
        xz = np.where(bad, 0.0, np.where(x_bad, 0.0, xc)[:, None])
        n_bad = _window_sums(bad.astype(float), w)
        sx, sy = _window_sums(xz, w), _window_sums(yz, w)
        sxx = _window_sums(xz * xz, w) - sx * sx / w
        syy = _window_sums(yz * yz, w) - sy * sy / w
        sxy = _window_sums(xz * yz, w) - sx * sy / w
        with np.errstate(divide="ignore", invalid="ignore"):
            ssr = np.maximum(syy - sxy * sxy / sxx, 0.0)
            se = np.sqrt(ssr / (w - 2) / sxx)
        se[(n_bad > 0.5) | ~(sxx > 0)] = np.nan
        out[:, lo:hi] = se
    out[: w - 1] = np.nan
    return out[:, 0] if one_d else out


def rolling_min_variance_weights(
    portfolio_returns: FloatArray, hedge_returns: FloatArray, window: int
) -> FloatArray:
    """Minimum-variance weights b_t = Σ_hh⁻¹ Σ_hp over the trailing ``window`` rows.

    The rolling form of :func:`core.beta.min_variance_weights` (same formula, windowed
    centred moment sums; tested equal to it window by window). ``portfolio_returns``
    (T,) or (T, N), ``hedge_returns`` (T, K). Returns (T, N, K); NaN for incomplete or
    missing windows and for (nearly) collinear hedge returns.
    """
    y = np.asarray(portfolio_returns, dtype=float)
    y2 = y[:, None] if y.ndim == 1 else y
    h = np.asarray(hedge_returns, dtype=float)
    if h.ndim != 2 or h.shape[0] != y2.shape[0]:
        raise InputError(f"hedge_returns: expected shape ({y2.shape[0]}, K), got {h.shape}")
    t, n = y2.shape
    k = h.shape[1]
    w = int(window)
    out = np.full((t, n, k), np.nan)
    if t < w:
        return out
    hc = _centre(h)
    yc = _centre(y2)
    h_bad = ~np.all(np.isfinite(hc), axis=1)
    hz = np.where(h_bad[:, None], 0.0, hc)
    # hedge-hedge moments are shared by every column
    sh = _window_sums(hz, w)
    shh = _window_sums(hz[:, :, None] * hz[:, None, :], w) - sh[:, :, None] * sh[:, None, :] / w
    nbad_h = _window_sums(h_bad.astype(float), w)
    det = np.linalg.det(shh[w - 1 :]) if k > 1 else shh[w - 1 :, 0, 0]
    scale = np.prod(np.diagonal(shh[w - 1 :], axis1=1, axis2=2), axis=1)
    good_h = (nbad_h[w - 1 :] < 0.5) & (np.abs(det) > 1e-12 * np.abs(scale)) & (scale > 0)
    safe = np.where(good_h[:, None, None], shh[w - 1 :], np.eye(k))
    inv = np.linalg.inv(safe)  # (T−w+1, K, K)
    for j in range(n):
        bad = h_bad | ~np.isfinite(yc[:, j])
        yz = np.where(bad, 0.0, yc[:, j])
        hzj = np.where(bad[:, None], 0.0, hz)
        nb = _window_sums(bad.astype(float), w)[w - 1 :]
        sy = _window_sums(yz, w)[w - 1 :]
        shj = _window_sums(hzj, w)[w - 1 :]
        shy = _window_sums(hzj * yz[:, None], w)[w - 1 :] - shj * sy[:, None] / w
        b = np.einsum("tkl,tl->tk", inv, shy)
        b[~(good_h & (nb < 0.5))] = np.nan
        out[w - 1 :, j, :] = b
    return out


def _shorts_only_pair(
    b: FloatArray, y2: FloatArray, h: FloatArray, window: int
) -> tuple[FloatArray, FloatArray]:
    """Rolling two-instrument weights constrained to b ≥ 0, as
    :func:`core.beta.min_variance_weights` with ``nonnegative=True`` window by window: where
    a weight is negative the most negative instrument is dropped and the other takes its
    own rolling OLS beta (0 if that is negative too). ``b`` (T, N, 2); returns (T, N) each."""
    b0, b1 = b[:, :, 0], b[:, :, 1]
    with np.errstate(invalid="ignore"):
        drop0 = (b0 < 0) & (b0 <= b1)  # BTC the most negative: ETH alone
        drop1 = (b1 < 0) & ~drop0  # ETH the most negative: BTC alone
        if not (drop0.any() or drop1.any()):
            return b0, b1
        alone0 = np.maximum(rolling_beta(y2, h[:, 0], window), 0.0)
        alone1 = np.maximum(rolling_beta(y2, h[:, 1], window), 0.0)
    return (
        np.where(drop0, 0.0, np.where(drop1, alone0, b0)),
        np.where(drop1, 0.0, np.where(drop0, alone1, b1)),
    )


def target_ratios(
    spec: PolicySpec,
    portfolio_returns: FloatArray,
    hedge_returns: Mapping[str, FloatArray],
    *,
    asset_returns: FloatArray | None = None,
    asset_weights: FloatArray | None = None,
    asset_classes: Sequence[str | None] | None = None,
    primary: str = "BTC",
    with_std_error: bool = False,
) -> PolicyTargets:
    """Hedge ratios decided at each bar by ``spec`` (rows ≤ t only).

    * ``portfolio_returns`` (T,) or (T, N): simple returns of each portfolio (row 0 NaN);
    * ``hedge_returns``: {"BTC": (T,), "ETH": (T,)} simple returns of the hedge assets;
      single-instrument policies hedge with ``primary`` (default BTC), ``multi`` with both;
    * ``asset_returns`` (T, A) and ``asset_weights`` (T, A) or None: per-holding returns
      and buy-and-hold value weights at ``t`` (rows sum to 1), for ``shrunk`` and the
      class-table ``static``. Without weights the N portfolio columns are the assets
      themselves (each column one coin), and the cross-section for shrinkage is the N
      columns;
    * ``asset_classes`` (A,): seed classes (l1, defi, lowcap) for ``static`` without a beta.

    Returns ratios (T, N) per hedge instrument, clipped at 0; ``with_std_error`` adds the
    standard error of the rolling OLS beta (for confidence bands).
    """
    y = np.asarray(portfolio_returns, dtype=float)
    y2 = y[:, None] if y.ndim == 1 else y
    t, n = y2.shape
    if primary not in hedge_returns:
        raise InputError(f"hedge_returns: {primary} returns are required")
    x = np.asarray(hedge_returns[primary], dtype=float)
    if x.shape != (t,):
        raise InputError(f"hedge_returns[{primary!r}]: expected shape ({t},), got {x.shape}")
    se: FloatArray | None = None
    assumed = False
    notes: list[str] = []
    kind = spec.kind
    if kind in ("none", "one-to-one") or (kind == "static" and spec.beta is not None):
        beta = np.full((t, n), float(spec.beta or 0.0))
        assumed = kind == "static"
        return PolicyTargets({primary: beta}, None, assumed, notes)
    if kind == "static":
        if asset_classes is None or asset_weights is None or any(c is None for c in asset_classes):
            missing = [] if asset_classes is None else [
                i for i, c in enumerate(asset_classes) if c is None
            ]
            raise InputError(
                "policy 'static': the class table needs a class for every holding "
                f"{'(holding #' + str(missing[0] + 1) + ' has none) ' if missing else ''}"
                "— add class = \"l1\" | \"defi\" | \"lowcap\", or pass a beta, e.g. static:1.8"
            )
        cb = np.array([class_default_beta(str(c)) for c in asset_classes])
        wts = np.asarray(asset_weights, dtype=float)
        beta = (wts @ cb)[:, None] * np.ones((1, n))
        return PolicyTargets({primary: beta}, None, True, notes)
    est = policy_estimator(kind)
    if est is not None and est.cross_section:
        assert spec.window is not None
        beta, se = _shrunk(y2, x, spec.window, asset_returns, asset_weights)
    elif est is not None:
        param = spec.halflife if est.parameter == "halflife" else spec.window
        assert param is not None
        beta = est.rolling(y2, x, float(param))
        if kind == "rolling-ols" and with_std_error:
            assert spec.window is not None
            se = rolling_beta_std_error(y2, x, spec.window)
    elif kind == "multi":
        assert spec.window is not None
        if "ETH" not in hedge_returns or "BTC" not in hedge_returns:
            raise InputError("policy 'multi': BTC and ETH prices are both needed")
        h = np.column_stack([np.asarray(hedge_returns["BTC"], dtype=float),
                             np.asarray(hedge_returns["ETH"], dtype=float)])
        b = rolling_min_variance_weights(y2, h, spec.window)
        neg = np.nanmean(np.any(b < 0, axis=2)) if np.isfinite(b).any() else 0.0
        if neg > 0:
            notes.append(
                f"multi: on {100 * neg:.0f}% of the bars a minimum-variance weight was "
                "negative (a long leg); there the other instrument hedges alone at its own "
                "beta (the shorts-only minimum variance)"
            )
        btc, eth = _shorts_only_pair(b, y2, h, spec.window)
        return PolicyTargets({"BTC": btc, "ETH": eth}, None, False, notes)
    else:  # pragma: no cover - parse_policy restricts kinds
        raise InputError(f"policy: unsupported kind {kind!r}")
    with np.errstate(invalid="ignore"):
        clipped = np.where(np.isfinite(beta), np.maximum(beta, 0.0), np.nan)
    return PolicyTargets({primary: clipped}, se, assumed, notes)


def _shrunk(
    y2: FloatArray,
    x: FloatArray,
    window: int,
    asset_returns: FloatArray | None,
    asset_weights: FloatArray | None,
) -> tuple[FloatArray, FloatArray]:
    """Vasicek-shrunk per-asset rolling betas, value-weighted into each portfolio."""
    if asset_weights is None:
        a_ret = y2
    else:
        if asset_returns is None:
            raise InputError("policy 'shrunk': per-holding returns are needed")
        a_ret = np.asarray(asset_returns, dtype=float)
    betas = np.asarray(rolling_beta(a_ret, x, window), dtype=float)
    ses = rolling_beta_std_error(a_ret, x, window)
    shr = np.full_like(betas, np.nan)
    for i in range(window - 1, betas.shape[0]):
        row = betas[i]
        if np.isfinite(row).any():
            shr[i] = shrunk_betas(row, ses[i])
    if asset_weights is None:
        return shr, ses
    wts = np.asarray(asset_weights, dtype=float)
    port = np.sum(wts * shr, axis=1, keepdims=True)
    port[~np.all(np.isfinite(shr), axis=1)] = np.nan
    return port, np.full_like(port, np.nan)
