"""Everything done to a network's raw outputs before anyone sees them, once: the quantiles of
each hour sorted so that they never cross, the first hour's moved onto the one-hour head's
forecast, the seeds' forecasts averaged, and the scaled values put back in megawatts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from loadforecast.scaling import Scalers, unscale_load

POINT = (0.5,)  # the levels of a network without quantiles: its forecast is the median


def quantile_name(level: float) -> str:
    """A quantile's name in forecasts and metrics: p10 for 0.1, p2.5 for 0.025."""
    return f"p{100 * level:.10g}"


def median_index(levels: Sequence[float]) -> int:
    """Index of the level that is the point forecast: the one nearest 0.5."""
    return int(np.argmin(np.abs(np.asarray(levels) - 0.5)))


def ordered(quantiles: torch.Tensor, next_hour: torch.Tensor, median: int) -> torch.Tensor:
    """Quantiles (N, H, Q) sorted along Q, the first hour's moved with their median onto the
    one-hour head's forecast `next_hour` (N,): its median is the head's, its spread the
    decoder's."""
    quantiles = quantiles.sort(dim=-1).values
    first = quantiles[:, 0]
    first += (next_hour - first[:, median])[:, None]
    first[:, median] = next_hour
    return quantiles


def next_hour(forecasts: np.ndarray, median: int) -> np.ndarray:
    """The point forecasts of the next hour, (..., origins, hours, levels) -> (..., origins)."""
    return forecasts[..., 0, median]


def average_seeds(per_seed: np.ndarray) -> np.ndarray:
    """The seeds' averaged forecast: the mean over the first axis, (seeds, ...) -> (...)."""
    return np.mean(per_seed, axis=0)


def to_megawatts(scaled: np.ndarray, regions: np.ndarray, scalers: Scalers) -> np.ndarray:
    """Scaled loads (N, ...) back to megawatts (float64), row `i` of the region `regions[i]`."""
    scaled = np.asarray(scaled)
    repeat = np.repeat(np.asarray(regions), scaled[0].size if len(scaled) else 0)
    return unscale_load(scaled.ravel(), repeat, scalers).reshape(scaled.shape)


def conformal_offsets(
    quantiles: np.ndarray, actual: np.ndarray, levels: Sequence[float]
) -> np.ndarray:
    """Split-conformal shifts (hours, levels) of quantile forecasts (origins, hours, levels) of
    `actual` (origins, hours), on origins the network was not fitted to (the validation part,
    which only chose its epoch): for each hour ahead
    and level `q`, the `q`-quantile of the errors `actual - forecast` (with the finite-sample
    correction), so that `forecast + shift` lies above `actual` on a fraction `q` of them. The
    median's shift is 0: the point forecast stays as it is."""
    levels = np.asarray(levels, dtype=np.float64)
    errors = np.sort(np.asarray(actual, np.float64)[..., None] - quantiles, axis=0)
    count = len(errors)
    if count == 0:
        return np.zeros(quantiles.shape[1:], dtype=np.float32)
    # the ceil((n + 1) q)-th smallest error for q above one half, the floor((n + 1) q)-th below
    ranks = np.round((count + 1) * levels, 9)  # 0.9 * 100 is 90, not 90.00000000000001
    upper = np.clip(np.ceil(ranks) - 1, 0, count - 1).astype(int)
    lower = np.clip(np.floor(ranks) - 1, 0, count - 1).astype(int)
    rank = np.where(levels > 0.5, upper, lower)
    shifts = np.take_along_axis(errors, rank[None, None, :].repeat(errors.shape[1], 1), 0)[0]
    shifts[:, median_index(levels)] = 0.0
    return shifts.astype(np.float32)


def calibrated(quantiles: np.ndarray, offsets: np.ndarray, median: int) -> np.ndarray:
    """Quantiles (origins, hours, levels) shifted by `offsets` (origins or 1, hours, levels); a
    level its shift would take to or across the median keeps its own value, and the median
    stays as it is."""
    shifted = quantiles + offsets
    point = quantiles[..., median : median + 1]
    below, above = slice(None, median), slice(median + 1, None)
    shifted[..., below] = np.where(
        shifted[..., below] < point, shifted[..., below], quantiles[..., below]
    )
    shifted[..., above] = np.where(
        shifted[..., above] > point, shifted[..., above], quantiles[..., above]
    )
    shifted[..., median] = quantiles[..., median]
    return np.sort(shifted, axis=-1)
