"""Signal processing for the local engine: measuring a speaker (pitch, formants, timbre) and moving a voice
toward them (Praat PSOLA and a smooth equaliser)."""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import numpy as np
import parselmouth
from parselmouth.praat import call as praat_call
from scipy.fft import irfft, next_fast_len, rfft
from scipy.signal import resample_poly

log = logging.getLogger(__name__)

# Spectral analysis: long-term average spectrum on a log-frequency grid.
_ANALYSIS_RATE = 22050
_FFT = 1024
_HOP = 512
_GRID_HZ = np.geomspace(60.0, 10500.0, 96)
_SMOOTH_OCTAVES = 1.0 / 6.0
_SPEECH_FLOOR_DB = 30.0  # frames quieter than the loud frames by more than this are not speech
_WARP_FIT_HZ = (300.0, 7000.0)  # band where the formant ratio is fitted
_WARP_RANGE = (0.78, 1.40)
_WARP_PRIOR = 40.0  # dB^2 per log(ratio)^2 away from the pitch-suggested ratio
_WARP_PITCH_EXPONENT = 0.2  # suggested formant ratio = (reference f0 / base f0) ** this
_EQ_LIMIT_DB = 12.0
_EQ_STRENGTH = 1.0
# Pitch analysis and limits.
_PITCH_LIMITS = (50.0, 700.0)
_MIN_VOICED_FRAMES = 50  # 0.5 s of voiced speech
_OUTPUT_PEAK = 0.9
# Praat keeps global state; its calls are serialised. They are short (a few ms per second of audio).
_PRAAT_LOCK = threading.Lock()


# --------------------------------------------------------------------------- analysis


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples.astype(np.float32, copy=False)
    g = math.gcd(rate, target)
    return resample_poly(samples, target // g, rate // g).astype(np.float32)


def _pitch_values(samples: np.ndarray, rate: int, floor: float, ceiling: float) -> np.ndarray:
    with _PRAAT_LOCK:
        sound = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=rate)
        pitch = sound.to_pitch_ac(time_step=0.01, pitch_floor=floor, pitch_ceiling=ceiling)
        f0 = pitch.selected_array["frequency"]
    return f0[f0 > 0]


def analyse_pitch(samples: np.ndarray, rate: int) -> dict[str, float] | None:
    """Pitch level and range: two passes, the second with limits fitted to the speaker (None if too little voicing)."""
    f0 = _pitch_values(samples, rate, *_PITCH_LIMITS)
    if f0.size < _MIN_VOICED_FRAMES:
        return None
    q25, q75 = np.percentile(f0, [25, 75])
    floor = float(max(_PITCH_LIMITS[0], 0.75 * q25))
    ceiling = float(min(_PITCH_LIMITS[1], 1.5 * q75))
    refined = _pitch_values(samples, rate, floor, ceiling)
    if refined.size >= _MIN_VOICED_FRAMES:
        f0 = refined
    q10, q50, q90 = np.percentile(f0, [10, 50, 90])
    return {
        "median_f0_hz": float(q50),
        "f0_p10_hz": float(q10),
        "f0_p90_hz": float(q90),
        "pitch_range_semitones": float(12.0 * np.log2(q90 / q10)),
        "pitch_floor_hz": floor,
        "pitch_ceiling_hz": ceiling,
        "voiced_seconds": float(f0.size * 0.01),
    }


def _smoothing_matrix(rate: int) -> np.ndarray:
    freqs = np.fft.rfftfreq(_FFT, 1.0 / rate)
    with np.errstate(divide="ignore"):
        distance = np.abs(np.log2(np.maximum(freqs, 1e-3)[None, :] / _GRID_HZ[:, None]))
    weights = np.clip(1.0 - distance / _SMOOTH_OCTAVES, 0.0, None)
    for row, centre in enumerate(_GRID_HZ):
        if weights[row].sum() == 0.0:
            weights[row, int(np.argmin(np.abs(freqs - centre)))] = 1.0
    return weights / weights.sum(axis=1, keepdims=True)


_SMOOTHING = _smoothing_matrix(_ANALYSIS_RATE)


def long_term_spectrum(samples: np.ndarray, bandwidth_hz: float) -> np.ndarray:
    """Mean power spectrum of the speech frames (at _ANALYSIS_RATE) in dB on _GRID_HZ; NaN above ``bandwidth_hz``."""
    if samples.size < _FFT:
        samples = np.pad(samples, (0, _FFT - samples.size))
    count = 1 + (samples.size - _FFT) // _HOP
    frames = np.lib.stride_tricks.sliding_window_view(samples, _FFT)[::_HOP][:count] * np.hanning(_FFT)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    energy = 10.0 * np.log10(power.sum(axis=1) + 1e-12)
    speech = energy > np.percentile(energy, 95) - _SPEECH_FLOOR_DB
    mean_power = power[speech].mean(axis=0)
    spectrum = 10.0 * np.log10(_SMOOTHING @ mean_power + 1e-12)
    spectrum[_GRID_HZ > bandwidth_hz] = np.nan
    return spectrum


def _shifted(spectrum: np.ndarray, ratio: float) -> np.ndarray:
    """The spectrum of a voice whose formants are all multiplied by ``ratio`` (a shift on the log grid)."""
    log_grid = np.log(_GRID_HZ)
    return np.interp(log_grid - np.log(ratio), log_grid, spectrum, left=np.nan, right=np.nan)


def fit_formant_ratio(reference: np.ndarray, base: np.ndarray, reference_f0: float, base_f0: float) -> float:
    """The formant ratio that best maps the base voice's spectrum shape onto the reference's (level and tilt free).

    The fit starts above the lowest few harmonics (their ripple misleads it for high voices) and is pulled gently
    toward the ratio that the pitch difference suggests (higher voices tend to have shorter vocal tracts).
    """
    log_grid = np.log(_GRID_HZ)
    low = max(_WARP_FIT_HZ[0], 3.5 * max(reference_f0, base_f0))
    band = (_GRID_HZ >= low) & (_GRID_HZ <= _WARP_FIT_HZ[1])
    expected = _WARP_PITCH_EXPONENT * float(np.log(reference_f0 / base_f0))
    best_ratio, best_cost = 1.0, np.inf
    for ratio in np.arange(_WARP_RANGE[0], _WARP_RANGE[1] + 1e-9, 0.01):
        diff = reference - _shifted(base, ratio)
        use = band & np.isfinite(diff)
        if use.sum() < 20:
            continue
        x, y = log_grid[use], diff[use]
        slope, offset = np.polyfit(x, y, 1)
        residual = y - (slope * x + offset)
        cost = float(np.mean(residual**2)) + _WARP_PRIOR * (float(np.log(ratio)) - expected) ** 2
        if cost < best_cost:
            best_ratio, best_cost = float(ratio), cost
    return round(best_ratio, 2)


def equaliser(reference: np.ndarray, transformed_base: np.ndarray) -> np.ndarray:
    """Gains (dB on _GRID_HZ) that give the transformed base voice the reference's long-term timbre."""
    diff = reference - transformed_base
    valid = np.isfinite(diff)
    if valid.sum() < 10:
        return np.zeros_like(_GRID_HZ)
    idx = np.arange(diff.size)
    diff = np.interp(idx, idx[valid], diff[valid])  # hold the edge values beyond the reference's bandwidth
    speech_band = (_GRID_HZ >= 100.0) & (_GRID_HZ <= 8000.0)
    diff -= float(np.mean(diff[speech_band]))
    diff[_GRID_HZ < 80.0] = np.minimum(diff[_GRID_HZ < 80.0], 0.0)
    return np.clip(diff * _EQ_STRENGTH, -_EQ_LIMIT_DB, _EQ_LIMIT_DB)


# --------------------------------------------------------------------------- transformation


def apply_equaliser(samples: np.ndarray, rate: int, gains_db: np.ndarray) -> np.ndarray:
    """Zero-phase filtering with a smooth gain curve (padded, so nothing wraps around)."""
    n = next_fast_len(samples.size + 4096, real=True)
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    log_f = np.log(np.clip(freqs, _GRID_HZ[0], _GRID_HZ[-1]))
    gains = 10.0 ** (np.interp(log_f, np.log(_GRID_HZ), gains_db) / 20.0)
    return irfft(rfft(samples, n) * gains, n)[: samples.size].astype(np.float32)


def change_voice(samples: np.ndarray, rate: int, transform: dict[str, Any]) -> np.ndarray:
    """Praat's pitch-synchronous overlap-add: formant ratio, new median pitch and range; then the timbre equaliser."""
    out = samples.astype(np.float32)
    if samples.size >= rate // 20:
        try:
            with _PRAAT_LOCK:
                sound = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=rate)
                changed = praat_call(
                    sound,
                    "Change gender",
                    transform["source_pitch_floor_hz"],
                    transform["source_pitch_ceiling_hz"],
                    transform["formant_ratio"],
                    transform["median_f0_hz"],
                    transform["pitch_range_factor"],
                    1.0,
                )
                changed_rate = int(round(changed.sampling_frequency))
                changed_samples = np.asarray(changed.values[0], dtype=np.float32)
            out = _resample(changed_samples, changed_rate, rate)
        except parselmouth.PraatError as exc:  # e.g. nothing voiced to work on: keep the sentence as it is
            log.warning("pitch/formant change skipped for one sentence: %s", exc)
    gains = transform.get("eq_db")
    if gains:
        out = apply_equaliser(out, rate, np.asarray(gains, dtype=np.float64))
    return out


def _level(samples: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak < 1e-6:
        return samples.astype(np.float32)
    return (samples * (_OUTPUT_PEAK / peak)).astype(np.float32)
