"""Stages of the PJM hourly-load forecasting pipeline; run each as `python -m stages.<name>`."""
