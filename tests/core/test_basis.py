"""Basis and annualised basis (core/basis.py)."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from althedge.core.basis import annualised_basis, basis, days_to_expiry
from althedge.errors import InputError


def test_contango_and_backwardation() -> None:
    # F = 66 300, S = 65 000: basis 2 %; 91 days to expiry → 2 % × 365/91 ≈ 8.022 %
    assert basis(65_000, 66_300) == pytest.approx(0.02)
    assert annualised_basis(65_000, 66_300, 91) == pytest.approx(0.02 * 365 / 91)
    assert basis(65_000, 64_350) == pytest.approx(-0.01)
    out = annualised_basis(100.0, np.array([101.0, 99.0]), 365)
    assert out.tolist() == pytest.approx([0.01, -0.01])


def test_days_to_expiry() -> None:
    assert days_to_expiry(date(2026, 12, 25), date(2026, 11, 25)) == 30
    assert days_to_expiry(datetime(2026, 12, 25, 8), datetime(2026, 12, 24, 20)) == 0.5
    assert days_to_expiry(datetime(2026, 12, 25, 8), date(2026, 12, 24)) == 1


def test_bad_input() -> None:
    with pytest.raises(InputError, match="spot"):
        basis(0, 100)
    with pytest.raises(InputError, match="expiry"):
        annualised_basis(100, 101, 0)
    with pytest.raises(InputError, match="futures"):
        basis(100, float("nan"))


@given(s=st.floats(1, 1e6), f=st.floats(1, 1e6), d=st.floats(1, 400))
def test_sign_and_scaling(s: float, f: float, d: float) -> None:
    b = basis(s, f)
    assert (b > 0) == (f > s) or b == 0
    assert annualised_basis(s, f, d) == pytest.approx(b * 365 / d)
