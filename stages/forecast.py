"""`python -m stages.forecast MODEL FILES...`: the same as `loadforecast forecast ...`."""

from loadforecast.cli import forecast_main

if __name__ == "__main__":
    forecast_main()
