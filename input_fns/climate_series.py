"""The embedded climate-like series: a seeded stand-in for the Jena climate CSV, which cannot be downloaded here.

Ten-minute rows with Jena's 14 numeric columns and its ``Date Time`` format.
The temperature is a yearly and a daily cycle plus weather: a latent anomaly
that wanders over days (an AR(1) process) and short noise. The pressure falls
as the anomaly a day ahead rises (a front announces itself), so a window
holds some of what the next day brings; that is what lets a recurrent model
beat the common-sense forecast (tomorrow's temperature = today's at this
hour), as the book's LSTM does on Jena. The other columns follow from the
temperature, pressure and humidity by the usual formulas (Magnus vapour
pressure, the ideal gas law), so they are correlated with the temperature as
Jena's are.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

STEP_MINUTES = 10
ROWS_PER_DAY = 24 * 60 // STEP_MINUTES
DAYS = 365
SEED = 2009
TIME_COLUMN = "Date Time"
TARGET_COLUMN = "T (degC)"
TIME_FORMAT = "%d.%m.%Y %H:%M:%S"  # Jena's: 01.01.2009 00:10:00
COLUMNS = (
    "p (mbar)",
    "T (degC)",
    "Tpot (K)",
    "Tdew (degC)",
    "rh (%)",
    "VPmax (mbar)",
    "VPact (mbar)",
    "VPdef (mbar)",
    "sh (g/kg)",
    "H2OC (mmol/mol)",
    "rho (g/m**3)",
    "wv (m/s)",
    "max. wv (m/s)",
    "wd (deg)",
)
FRONT_LEAD_HOURS = 24  # how far ahead of the temperature the pressure moves
VERSION = 2  # bump when the formulas change: the materialised file is named by it


def _ar1(rng: np.random.Generator, rows: int, hours: float, std: float) -> np.ndarray:
    """An AR(1) process at the row step with correlation time ``hours`` and stationary ``std``."""
    phi = np.exp(-(STEP_MINUTES / 60) / hours)
    shocks = rng.normal(0.0, std * np.sqrt(1 - phi**2), rows)
    out = np.empty(rows)
    out[0] = rng.normal(0.0, std)
    for i in range(1, rows):
        out[i] = phi * out[i - 1] + shocks[i]
    return out


def generate(days: int = DAYS, seed: int = SEED) -> pd.DataFrame:
    """``days`` of ten-minute rows from 01.01.2009 00:10:00: the time column, then COLUMNS."""
    rng = np.random.default_rng(seed)
    rows = days * ROWS_PER_DAY
    lead = FRONT_LEAD_HOURS * 60 // STEP_MINUTES
    times = pd.Timestamp("2009-01-01 00:10:00") + pd.to_timedelta(np.arange(rows) * STEP_MINUTES, unit="min")
    hours = np.arange(rows) * STEP_MINUTES / 60
    yearly = -10.0 * np.cos(2 * np.pi * (hours / 24 - 15) / 365.25)
    daily_shape = np.sin(2 * np.pi * (hours - 9) / 24)
    daily = (3.0 + 1.5 * np.sin(2 * np.pi * (hours / 24 - 100) / 365.25)) * daily_shape
    weather = _ar1(rng, rows + lead, hours=20.0, std=2.8)
    temperature = 9.0 + yearly + daily + weather[:rows] + rng.normal(0.0, 0.25, rows)
    pressure = 989.0 - 2.5 * weather[lead:] + _ar1(rng, rows, 72.0, 2.0) + rng.normal(0.0, 0.2, rows)
    humidity = np.clip(76.0 - 9.0 * daily_shape - 1.5 * weather[:rows] + _ar1(rng, rows, 10.0, 8.0), 12.0, 100.0)
    vp_max = 6.1078 * np.exp(17.27 * temperature / (temperature + 237.3))
    vp_act = vp_max * humidity / 100
    gamma = np.log(vp_act / 6.1078)
    wind = np.abs(2.0 + _ar1(rng, rows, 6.0, 1.4)) + 0.05
    frame = pd.DataFrame(
        {
            TIME_COLUMN: times.strftime(TIME_FORMAT),
            "p (mbar)": pressure,
            "T (degC)": temperature,
            "Tpot (K)": (temperature + 273.15) * (1000 / pressure) ** 0.286,
            "Tdew (degC)": 237.3 * gamma / (17.27 - gamma),
            "rh (%)": humidity,
            "VPmax (mbar)": vp_max,
            "VPact (mbar)": vp_act,
            "VPdef (mbar)": vp_max - vp_act,
            "sh (g/kg)": 622 * vp_act / (pressure - 0.378 * vp_act),
            "H2OC (mmol/mol)": 1000 * vp_act / pressure,
            "rho (g/m**3)": pressure * 100 / (287.05 * (temperature + 273.15)) * 1000,
            "wv (m/s)": wind,
            "max. wv (m/s)": wind * 1.7 + np.abs(rng.normal(0.0, 0.3, rows)),
            "wd (deg)": (200.0 + _ar1(rng, rows, 12.0, 70.0)) % 360,
        }
    )
    return frame.round(2)


def materialise(directory: str, days: int = DAYS, seed: int = SEED) -> str:
    """The series as a CSV in ``directory`` (written once, atomically; the same file after that); its path."""
    path = os.path.join(directory, f"climate_v{VERSION}_{days}d_seed{seed}.csv")
    if not os.path.exists(path):
        os.makedirs(directory, exist_ok=True)
        partial = f"{path}.{os.getpid()}.partial"  # a reader never sees half a file
        generate(days, seed).to_csv(partial, index=False)
        os.replace(partial, path)
    return path
