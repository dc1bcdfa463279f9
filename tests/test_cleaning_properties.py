"""Property: shuffled, duplicated or briefly gapped versions of a clean series clean back to it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from loadforecast.cleaning import clean_series
from loadforecast.config import IngestParams

POLICY = IngestParams(duplicates="mean", max_fill_hours=3, outlier_ratio=0.5)


def clean(hours: int, base: float, slope: float) -> pd.Series:
    """A series that time interpolation reproduces exactly: linear in time."""
    index = pd.date_range("2018-03-01", periods=hours, freq="h")
    return pd.Series(base + slope * np.arange(hours), index=index, dtype=np.float64)


@settings(max_examples=60, deadline=None)
@given(
    hours=st.integers(12, 200),
    base=st.floats(500, 50_000),
    slope=st.floats(-1, 1),
    seed=st.integers(0, 2**32 - 1),
    n_duplicates=st.integers(0, 10),
    n_gaps=st.integers(0, 3),
)
def test_messy_versions_clean_back_to_the_series(hours, base, slope, seed, n_duplicates, n_gaps):
    series = clean(hours, base, slope)
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"timestamp": series.index, "load_mw": series.to_numpy()})
    # Gaps of 1-3 hours, each at the start of its own 5-hour block: they never touch each other
    # nor the ends of the series.
    blocks = rng.permutation(np.arange(1, hours - 4, 5))[:n_gaps]
    dropped = {int(b) + k for b in blocks for k in range(int(rng.integers(1, 4)))}
    messy = frame.drop(index=sorted(dropped))
    messy = pd.concat(
        [messy, messy.sample(n=min(n_duplicates, len(messy)), random_state=seed % 1000)]
    )
    messy = messy.sample(frac=1.0, random_state=seed % 1000)

    cleaned, report = clean_series(messy, POLICY)

    pd.testing.assert_series_equal(cleaned, series, check_names=False, check_freq=False, rtol=1e-9)
    assert report["hours_filled"] == len(dropped)
    assert report["implausible_readings"] == 0
