"""Hourly electricity-load forecasting: the data contract and cleaning, the calendar, windows,
a recurrent network (GRU or LSTM), its training loop, and one saved forecaster that evaluation,
the `loadforecast` command and the MLflow model all load; with the metrics and the baselines it
must beat. The library knows nothing of DVC: the pipeline in `stages/` drives it.
"""
