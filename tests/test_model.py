import pytest
import torch

from loadforecast.errors import LoadForecastError
from loadforecast.model import ModelConfig, RNNForecaster, select_device


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_forecaster_forecasts_the_next_hour_at_every_hour(cell, num_layers):
    model = RNNForecaster(ModelConfig(cell, input_size=5, hidden_size=16, num_layers=num_layers))
    inputs = torch.randn(7, 90, 5)
    out = model.eval()(inputs)
    assert out.shape == (7, 90)
    # the forecast at hour t reads the hours up to t only
    torch.testing.assert_close(model(inputs[:, :30])[:, -1], out[:, 29], rtol=1e-5, atol=1e-6)
    model.train()(inputs).sum().backward()  # trainable end to end
    assert all(p.grad is not None for p in model.parameters())


def test_cells_differ_only_in_the_recurrent_layer():
    gru = RNNForecaster(ModelConfig("gru", input_size=5, hidden_size=16))
    lstm = RNNForecaster(ModelConfig("lstm", input_size=5, hidden_size=16))
    assert type(gru.rnn).__name__ == "GRU" and type(lstm.rnn).__name__ == "LSTM"
    assert gru.head.in_features == lstm.head.in_features == 16


def test_unknown_cell_is_refused():
    with pytest.raises(ValueError, match="rnn"):
        RNNForecaster(ModelConfig("rnn", input_size=5))


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(LoadForecastError, match=r"device .cuda.: no CUDA device"):
            select_device("cuda")
