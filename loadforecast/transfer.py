"""Transfer: networks that start from another forecaster's weights (`train.init_from`).

A network trained on many long series knows how load moves hour to hour, day to day and week to
week; a series of a year or less may learn more from there than from random weights. Every
weight is copied from the start as it is, except the input weights of the first recurrent layer
and of the decoder, which are copied channel by channel, by the channel's name: a channel the
start lacks (a temperature, a holiday flag) starts at zero weight, so the network first
forecasts as the start did, and a channel the start read that this network does not is left out.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import Forecaster
from loadforecast.model import ModelConfig, RNNForecaster
from loadforecast.windows import InputSpec

# What must agree between the start and the network it starts (the input widths need not).
SAME_NETWORK = ("cell", "hidden_size", "num_layers", "target", "horizons", "quantiles")
SAME_DECODER = ("context_size", "decoder_size")


def channel_names(spec: InputSpec, features: list[str]) -> tuple[list[str], list[str]]:
    """The names of the network's input channels at each hour (`windows.gather`) and of the
    decoder's known channels of each hour ahead (`windows.gather_horizons`)."""
    calendar, known, _ = spec.columns(len(features))
    lags = [f"load_lag_{lag}" for lag in spec.lags]
    return spec.channels(features), [*features[calendar], *features[known], *lags]


def _by_name(weight: torch.Tensor, fixed: int, source: list[str], target: list[str]):
    """`weight`'s first `fixed` columns, then one column per `target` channel: the `source`
    channel's of that name, or zeros."""
    columns = [weight[:, :fixed]]
    for name in target:
        if name in source:
            columns.append(weight[:, fixed + source.index(name), None])
        else:
            columns.append(torch.zeros_like(weight[:, :1]))
    return torch.cat(columns, dim=1)


def starting_states(
    path: Path, config: ModelConfig, spec: InputSpec, features: list[str], count: int
) -> list[dict[str, torch.Tensor]]:
    """`count` starting weights for networks of `config` reading `features` through `spec`, from
    the saved forecaster at `path`: its seeds' networks in turn (the i-th from its seed i mod n)."""
    start = Forecaster.load(path)
    theirs = start.recipe.config
    fields = SAME_NETWORK + (SAME_DECODER if config.multi_horizon else ())
    differ = [f for f in fields if getattr(theirs, f) != getattr(config, f)]
    if differ:
        mine, other = asdict(config), asdict(theirs)
        raise LoadForecastError(
            f"{path}: cannot start this network from it: "
            + ", ".join(f"{f} = {other[f]} there, {mine[f]} here" for f in differ)
        )
    source = channel_names(start.recipe.spec, start.recipe.features)
    target = channel_names(spec, features)
    states = []
    for i in range(count):
        source_state = start.states[i % len(start.states)]
        state = {k: v.detach().to("cpu", torch.float32, copy=True) for k, v in source_state.items()}
        state["rnn.weight_ih_l0"] = _by_name(state["rnn.weight_ih_l0"], 0, source[0], target[0])
        if config.multi_horizon:
            decoder_input = "decoder.local_mlp.0.weight"
            context = 2 * config.context_size
            state[decoder_input] = _by_name(state[decoder_input], context, source[1], target[1])
        RNNForecaster(config).load_state_dict(state)  # the shapes agree, or a clear error
        states.append(state)
    return states


def save_start(forecaster: Path, target: Path) -> None:
    """Save the forecaster at `forecaster` as a start for other networks: its weights in float16
    (half the size; a start needs no more), everything else as it is."""
    start = Forecaster.load(forecaster)
    start.states = [{k: v.half() for k, v in state.items()} for state in start.states]
    start.save(target)
