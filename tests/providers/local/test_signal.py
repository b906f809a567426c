"""The local engine's signal processing as a unit, on generated voices of known pitch: measuring a speaker (pitch,
long-term spectrum, formant ratio, timbre) and moving a voice toward them (PSOLA, the equaliser, the output level)."""

from __future__ import annotations

import numpy as np
import pytest

from backend.providers.local.signal import (
    _ANALYSIS_RATE,
    _GRID_HZ,
    _level,
    _resample,
    analyse_pitch,
    apply_equaliser,
    change_voice,
    equaliser,
    fit_formant_ratio,
    long_term_spectrum,
)
from tests.helpers import voice_like

RATE = 16000
UNCHANGED = {  # a transform that keeps a 140 Hz voice where it is
    "formant_ratio": 1.0,
    "median_f0_hz": 140.0,
    "pitch_range_factor": 1.0,
    "source_pitch_floor_hz": 50.0,
    "source_pitch_ceiling_hz": 300.0,
}


@pytest.fixture(scope="module")
def voice() -> np.ndarray:
    """Four seconds of a buzzy 140 Hz voice with a slow vibrato (about 1.6 semitones from p10 to p90)."""
    return voice_like(4.0, rate=RATE, f0=140.0)


def spectrum_of(samples: np.ndarray, bandwidth: float = 8000.0) -> np.ndarray:
    return long_term_spectrum(_resample(samples, RATE, _ANALYSIS_RATE), bandwidth)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


# -- measuring ------------------------------------------------------------------------------------


@pytest.mark.parametrize("f0", [100.0, 140.0, 220.0])
def test_pitch_level_and_range_are_measured(f0):
    pitch = analyse_pitch(voice_like(4.0, rate=RATE, f0=f0), RATE)
    assert pitch["median_f0_hz"] == pytest.approx(f0, rel=0.03)
    assert pitch["f0_p10_hz"] < pitch["median_f0_hz"] < pitch["f0_p90_hz"]
    assert pitch["pitch_range_semitones"] == pytest.approx(12 * np.log2(pitch["f0_p90_hz"] / pitch["f0_p10_hz"]))
    assert pitch["pitch_floor_hz"] < pitch["f0_p10_hz"] and pitch["f0_p90_hz"] < pitch["pitch_ceiling_hz"]
    assert 3.5 < pitch["voiced_seconds"] <= 4.0


@pytest.mark.parametrize(
    "samples",
    [
        np.zeros(4 * RATE, np.float32),
        np.random.default_rng(1).normal(0, 0.1, 4 * RATE).astype(np.float32),
        voice_like(0.3, rate=RATE),
    ],
    ids=["silence", "noise", "under-half-a-second"],
)
def test_too_little_voiced_speech_has_no_pitch(samples):
    assert analyse_pitch(samples, RATE) is None


def test_the_long_term_spectrum_is_blank_above_the_bandwidth_and_follows_the_level(voice):
    spectrum = spectrum_of(voice, bandwidth=4000.0)
    assert spectrum.shape == _GRID_HZ.shape
    assert np.isnan(spectrum[_GRID_HZ > 4000.0]).all() and np.isfinite(spectrum[_GRID_HZ <= 4000.0]).all()
    louder = spectrum_of(10 * voice, bandwidth=4000.0)  # ten times the amplitude: 20 dB more at every frequency
    assert np.allclose((louder - spectrum)[_GRID_HZ <= 4000.0], 20.0, atol=0.01)


@pytest.mark.parametrize("ratio", [0.85, 1.0, 1.2])
def test_the_formant_ratio_of_a_shifted_voice_is_found_whatever_its_level(voice, ratio):
    shifted = change_voice(voice, RATE, {**UNCHANGED, "formant_ratio": ratio})
    base, reference = spectrum_of(voice), spectrum_of(shifted)
    assert fit_formant_ratio(reference, base, 140.0, 140.0) == pytest.approx(ratio, abs=0.03)
    assert fit_formant_ratio(reference + 12.0, base, 140.0, 140.0) == fit_formant_ratio(reference, base, 140.0, 140.0)


def test_the_equaliser_corrects_timbre_not_level_and_within_limits(voice):
    base = spectrum_of(voice, bandwidth=11025.0)
    assert np.allclose(equaliser(base + 6.0, base), 0.0, atol=1e-9)  # a louder reference: nothing to correct
    tilt = np.linspace(-30.0, 30.0, base.size)  # far brighter than the base voice
    gains = equaliser(base + tilt, base)
    assert gains.min() == -12.0 and gains.max() == 12.0  # clipped to ±12 dB
    assert np.all(np.diff(gains) >= -1e-9)  # and it brightens, never the other way
    assert np.all(gains[_GRID_HZ < 80.0] <= 0.0)  # rumble below 80 Hz is never boosted
    unknown = np.full_like(base, np.nan)  # a reference that tells nothing: leave the voice as it is
    assert np.array_equal(equaliser(unknown, base), np.zeros_like(_GRID_HZ))


# -- changing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [100.0, 200.0])
def test_change_voice_moves_the_median_pitch_to_the_target(voice, target):
    changed = change_voice(voice, RATE, {**UNCHANGED, "median_f0_hz": target})
    assert changed.dtype == np.float32 and changed.size == voice.size
    assert analyse_pitch(changed, RATE)["median_f0_hz"] == pytest.approx(target, rel=0.01)


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_change_voice_scales_the_pitch_range(voice, factor):
    before = analyse_pitch(voice, RATE)
    after = analyse_pitch(change_voice(voice, RATE, {**UNCHANGED, "pitch_range_factor": factor}), RATE)
    assert after["pitch_range_semitones"] / before["pitch_range_semitones"] == pytest.approx(factor, rel=0.05)
    assert after["median_f0_hz"] == pytest.approx(before["median_f0_hz"], rel=0.02)


def test_change_voice_applies_the_timbre_equaliser_when_the_transform_has_one(voice):
    plain = change_voice(voice, RATE, UNCHANGED)
    equalised = change_voice(voice, RATE, {**UNCHANGED, "eq_db": [6.0] * _GRID_HZ.size})
    assert rms(equalised) / rms(plain) == pytest.approx(10 ** (6 / 20), rel=0.01)
    unequalised = change_voice(voice, RATE, {**UNCHANGED, "eq_db": []})  # an empty one is none
    assert rms(unequalised) == pytest.approx(rms(plain), rel=0.01)  # (PSOLA is not bit-for-bit repeatable)


def test_a_piece_too_short_to_change_is_kept_as_float32():
    short = np.linspace(-0.5, 0.5, RATE // 40)  # 25 ms, float64: under the 50 ms that PSOLA needs
    kept = change_voice(short, RATE, {**UNCHANGED, "median_f0_hz": 250.0})
    assert kept.dtype == np.float32 and np.allclose(kept, short)


def test_apply_equaliser_shapes_frequencies_by_the_gain_curve():
    t = np.arange(2 * RATE) / RATE
    low, high = np.sin(2 * np.pi * 200 * t), np.sin(2 * np.pi * 4000 * t)
    gains = np.where(_GRID_HZ > 1000.0, -12.0, 0.0)

    def amplitude(samples: np.ndarray, hz: int) -> float:
        return float(np.abs(np.fft.rfft(samples))[hz * 2])  # 2 s of audio: bins are 0.5 Hz apart

    flat = apply_equaliser(low + high, RATE, np.zeros_like(_GRID_HZ))
    assert flat.dtype == np.float32 and flat.size == t.size and np.allclose(flat, low + high, atol=1e-5)
    shaped = apply_equaliser(low + high, RATE, gains)
    assert amplitude(shaped, 200) / amplitude(low, 200) == pytest.approx(1.0, rel=0.01)
    assert amplitude(shaped, 4000) / amplitude(high, 4000) == pytest.approx(10 ** (-12 / 20), rel=0.01)


@pytest.mark.parametrize(
    ("samples", "peak"),
    [
        (np.array([0.1, -0.2, 0.05], np.float32), 0.9),
        (np.array([3.0, -1.0], np.float32), 0.9),
        (np.zeros(100, np.float32), 0.0),  # silence is not blown up
        (np.zeros(0, np.float32), None),
    ],
    ids=["quiet", "clipping", "silence", "empty"],
)
def test_the_output_level_peaks_at_0_9(samples, peak):
    levelled = _level(samples)
    assert levelled.dtype == np.float32 and levelled.size == samples.size
    if peak is not None:
        assert float(np.max(np.abs(levelled))) == pytest.approx(peak)
        assert np.allclose(levelled * np.max(np.abs(samples)), samples * peak)  # the same shape, scaled
