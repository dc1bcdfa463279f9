"""The GRU-vs-LSTM study's preprocessing and training loop, re-implemented faithfully as the
comparison point for the benchmarks. Not used by the pipeline: its habits are what we avoid
(a row-wise lambda per feature, a Python loop copying every window, float64 windows held in
memory, a scaler fitted on whole series, a shuffled DataLoader with a host-to-device copy per batch,
hidden state carried across unrelated batches)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from sklearn.preprocessing import MinMaxScaler
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from loadforecast.settings import PARAMS_FILE, Params, parse_params

STUDY_PRESET = Path(__file__).parents[1] / "presets" / "study.txt"


def apply_overrides(raw: dict, arguments: str) -> dict:
    """params.yaml's content with `-S key.path=value` overrides applied, as `dvc exp run` does."""
    tokens = arguments.split()
    if len(tokens) % 2 or any(flag != "-S" for flag in tokens[::2]):
        raise ValueError(f"expected '-S key=value' pairs, got {arguments!r}")
    for assignment in tokens[1::2]:
        path, value = assignment.split("=", 1)
        *parents, key = path.split(".")
        section = raw
        for name in parents:
            section = section[name]
        if key not in section:
            raise KeyError(f"{path} is not in params.yaml")
        section[key] = yaml.safe_load(value)
    return raw


def study_params(params_file: Path = PARAMS_FILE) -> Params:
    """params.yaml turned into the study's configuration by presets/study.txt."""
    raw = yaml.safe_load(params_file.read_text())
    return parse_params(apply_overrides(raw, STUDY_PRESET.read_text()))


def study_preprocess(files: list[Path], lookback: int = 90):
    """Per file: calendar features by row-wise lambda, sort, scale the whole series, copy windows.

    Returns training inputs and labels (all files), test inputs and labels per file, and the
    per-file load scalers for inverse scaling.
    """
    train_x, train_y, test_x, test_y, label_scalers = [], [], {}, {}, {}
    for file in files:
        df = pd.read_csv(file, parse_dates=[0])
        # day_of_week/day_of_year: the study wrote dayofweek/dayofyear, which pandas 3 deprecates
        # (same values; the warning it raises on every row would slow this reference down).
        df["hour"] = df.apply(lambda x: x["Datetime"].hour, axis=1)
        df["dayofweek"] = df.apply(lambda x: x["Datetime"].day_of_week, axis=1)
        df["month"] = df.apply(lambda x: x["Datetime"].month, axis=1)
        df["dayofyear"] = df.apply(lambda x: x["Datetime"].day_of_year, axis=1)
        df = df.sort_values("Datetime").drop("Datetime", axis=1)
        data = MinMaxScaler().fit_transform(df.values)
        label_scalers[file.name] = MinMaxScaler().fit(df.iloc[:, 0].values.reshape(-1, 1))
        inputs = np.zeros((len(data) - lookback, lookback, df.shape[1]))
        labels = np.zeros(len(data) - lookback)
        for i in range(lookback, len(data)):
            inputs[i - lookback] = data[i - lookback : i]
            labels[i - lookback] = data[i, 0]
        labels = labels.reshape(-1, 1)
        test_portion = int(0.1 * len(inputs))
        train_x.append(inputs[:-test_portion])
        train_y.append(labels[:-test_portion])
        test_x[file.name] = inputs[-test_portion:]
        test_y[file.name] = labels[-test_portion:]
    return np.concatenate(train_x), np.concatenate(train_y), test_x, test_y, label_scalers


class StudyNet(nn.Module):
    """The study's GRUNet / LSTMNet: recurrent layers, ReLU, linear head, explicit hidden state."""

    def __init__(
        self,
        cell: str,
        input_dim: int,
        hidden_dim: int = 256,
        n_layers: int = 2,
        drop_prob: float = 0.2,
    ) -> None:
        super().__init__()
        self.cell, self.hidden_dim, self.n_layers = cell, hidden_dim, n_layers
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(input_dim, hidden_dim, n_layers, batch_first=True, dropout=drop_prob)
        self.fc = nn.Linear(hidden_dim, 1)
        self.relu = nn.ReLU()

    def forward(self, x, h):
        out, h = self.rnn(x, h)
        return self.fc(self.relu(out[:, -1])), h

    def init_hidden(self, batch_size: int, device: torch.device):
        zeros = torch.zeros(self.n_layers, batch_size, self.hidden_dim, device=device)
        return zeros if self.cell == "gru" else (zeros, zeros.clone())


def study_loader(train_x: np.ndarray, train_y: np.ndarray, batch_size: int = 1024) -> DataLoader:
    """The study's batches: float64 windows sampled one by one and collated on the host."""
    dataset = TensorDataset(torch.from_numpy(train_x), torch.from_numpy(train_y))
    return DataLoader(dataset, shuffle=True, batch_size=batch_size, drop_last=True)


def study_train(
    train_x,
    train_y,
    cell: str,
    device: torch.device,
    epochs: int = 5,
    batch_size: int = 1024,
    lr: float = 0.001,
    max_steps: int | None = None,
):
    """The study's loop; returns the model, seconds per epoch and the last epoch's mean loss."""
    loader = study_loader(train_x, train_y, batch_size)
    model = StudyNet(cell, train_x.shape[2]).to(device)
    criterion, optimizer = nn.MSELoss(), torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    epoch_seconds, loss_mean = [], float("nan")
    for _ in range(epochs):
        started, h, total, steps = (
            time.perf_counter(),
            model.init_hidden(batch_size, device),
            0.0,
            0,
        )
        for x, label in loader:
            h = h.data if cell == "gru" else tuple(e.data for e in h)
            model.zero_grad()
            out, h = model(x.to(device).float(), h)
            loss = criterion(out, label.to(device).float())
            loss.backward()
            optimizer.step()
            total, steps = total + loss.item(), steps + 1
            if max_steps and steps >= max_steps:
                break
        epoch_seconds.append(time.perf_counter() - started)
        loss_mean = total / steps
    return model, epoch_seconds, loss_mean
