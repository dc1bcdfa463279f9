"""Our windows hold the same examples as the study's on a clean series (only the scaling differs:
ours is fitted on the training part, the study's on the whole series)."""

import numpy as np

from benchmarks.study_reference import study_preprocess
from loadforecast.calendar import add_time_features
from loadforecast.data import read_regions
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import build_windows
from tests.synthetic import POLICY, calendar, load_series, window_params, write_region_csv


def test_same_windows_and_labels_as_the_study(tmp_path):
    path = write_region_csv(tmp_path, "XX", load_series("2018-01-01", 300))
    train_x, train_y, test_x, test_y, scalers = study_preprocess([path], lookback=90)

    table, _ = read_regions(tmp_path, ("XX",), POLICY)
    windows, counts = build_windows(
        add_time_features(table, calendar(cyclic=False, holidays=None)), window_params(90, 0.1, 0.0)
    )
    assert counts["XX"] == {"train": len(train_x), "val": 0, "test": len(test_x[path.name])}

    study_labels = scalers[path.name].inverse_transform(np.vstack([train_y, test_y[path.name]]))
    low, high = windows.scalers["XX"]["min"][0], windows.scalers["XX"]["max"][0]
    scaled = windows.series[windows.index["label_row"], LOAD_COLUMN]
    ours = low + scaled.astype(np.float64) * (high - low)
    np.testing.assert_allclose(ours, study_labels.ravel(), rtol=1e-5)
