import numpy as np
import pandas as pd
import pytest
import torch

from loadforecast.errors import LoadForecastError
from loadforecast.windows import (
    InputSpec,
    build_windows,
    gather,
    label_rows,
    load_windows,
    save_windows,
    split_codes,
    window_region,
)
from tests.synthetic import window_params


def hours(*spans: tuple[str, int]) -> np.ndarray:
    return np.concatenate([pd.date_range(s, periods=n, freq="h").to_numpy() for s, n in spans])


def test_labels_need_a_full_lookback_of_consecutive_hours():
    # 6 hours, a 2-hour hole, then 4 hours: with lookback 3 only rows 3-5 and 9 can be labels.
    stamps = hours(("2018-01-01 00:00", 6), ("2018-01-01 08:00", 4))
    assert label_rows(stamps, 3).tolist() == [3, 4, 5, 9]


def test_split_takes_test_then_validation_from_the_end():
    codes = split_codes(100, test_fraction=0.1, val_fraction=0.2)
    assert (codes == 2).sum() == 10 and (codes[-10:] == 2).all()
    assert (codes == 1).sum() == 18 and (codes[72:90] == 1).all()
    assert (codes[:72] == 0).all()


def test_study_split_uses_int_of_ten_percent():
    assert (split_codes(1009, 0.1, 0.0) == 2).sum() == 100


def test_scaler_sees_only_the_training_part():
    n, lookback = 40, 4
    values = np.arange(n, dtype=np.float64)[:, None]
    values[-5:] = 1e6  # only in the test part
    stamps = hours(("2018-01-01", n))
    section = window_params(lookback, 0.25, 0.0)
    scaled, labels, codes, scaler = window_region(values, stamps, section)
    last_train_label = labels[codes == 0][-1]
    assert scaler["max"][0] == last_train_label  # values[i] == i in the training part
    assert scaled[: last_train_label + 1].max() == pytest.approx(1.0)
    assert scaled[-1, 0] > 1.0  # test values may leave [0, 1]: they were not seen


def test_window_and_label_alignment_against_a_hand_built_example():
    series = torch.tensor([[float(i), 10.0 * i] for i in range(8)])  # (rows, 2 features)
    inputs, labels = gather(series, torch.tensor([3, 7]), InputSpec(lookback=3))
    assert inputs.shape == (2, 3, 2)
    assert inputs[0].tolist() == [[0.0, 0.0], [1.0, 10.0], [2.0, 20.0]]
    assert inputs[1, :, 0].tolist() == [4.0, 5.0, 6.0]
    assert labels.tolist() == [3.0, 7.0]  # the load (first feature) of the next hour


def test_lag_and_future_calendar_channels_against_a_hand_built_example():
    series = torch.tensor([[float(i), 10.0 * i] for i in range(12)])  # load i, calendar 10 i
    spec = InputSpec(lookback=2, lags=(5,), future_calendar=True)
    assert spec.history == 6 and spec.channels(["load", "cal"]) == ["load", "cal", "load_lag_5"]
    inputs, labels = gather(series, torch.tensor([9]), spec)
    # Steps are hours 7 and 8: their load, the calendar of hours 8 and 9 (9 is the forecast
    # hour), and the load 5 hours before hours 8 and 9.
    assert inputs[0].tolist() == [[7.0, 80.0, 3.0], [8.0, 90.0, 4.0]]
    assert labels.tolist() == [9.0]


def test_labels_need_the_history_of_their_lags():
    stamps = hours(("2018-01-01 00:00", 10))
    spec = InputSpec(lookback=2, lags=(5,))
    assert label_rows(stamps, spec.history).tolist() == [6, 7, 8, 9]


def test_validation_part_is_not_seen_by_the_scaler():
    n = 40
    values = np.arange(n, dtype=np.float64)[:, None]
    _, labels, codes, scaler = window_region(
        values, hours(("2018-01-01", n)), window_params(4, 0.25, 0.2)
    )
    assert (codes == 1).sum() == 5 and codes.tolist() == sorted(codes.tolist())
    assert scaler["max"][0] == labels[codes == 0][-1] < labels[codes == 1][0]


def features_frame(region: str, n: int, start: str = "2018-01-01") -> pd.DataFrame:
    stamps = pd.date_range(start, periods=n, freq="h")
    return pd.DataFrame(
        {
            "region": region,
            "timestamp": stamps,
            "load_mw": np.arange(n, dtype=np.float32) + 100,
            "hour": stamps.hour,
        }
    )


def test_build_windows_offsets_regions():
    frame = pd.concat([features_frame("A", 50), features_frame("C", 30)])
    windows, counts = build_windows(frame, window_params(10, 0.1, 0.0))
    assert windows.series.shape == (80, 2) and windows.series.dtype == np.float32
    assert set(counts) == {"A", "C"}
    assert counts["A"] == {"train": 36, "val": 0, "test": 4}
    c = windows.index[windows.index["region"] == "C"]
    assert c["label_row"].min() == 50 + 10  # C's rows follow A's in the series
    assert windows.features == ["load_mw", "hour"]


def test_a_series_with_too_little_history_is_named():
    frame = pd.concat([features_frame("A", 50), features_frame("B", 3)])
    with pytest.raises(LoadForecastError, match=r"series B: its 3 hourly rows give no training"):
        build_windows(frame, window_params(10, 0.1, 0.0))


def test_saved_windows_load_back_with_their_spec(tmp_path):
    frame = features_frame("A", 300)
    windows, _ = build_windows(frame, window_params(10, 0.1, 0.1, (24,), True, 48))
    save_windows(windows, tmp_path)
    loaded = load_windows(tmp_path)
    assert loaded.spec == InputSpec(10, (24,), True, 48)  # lags come back as a tuple
    np.testing.assert_array_equal(loaded.series, windows.series)
    pd.testing.assert_frame_equal(loaded.index, windows.index)
    assert (loaded.features, loaded.scalers) == (windows.features, windows.scalers)
