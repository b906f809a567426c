"""Speed of the local engine: real-time factor and time to first audio, per output format, plain and voice-matched."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from backend.audio import AudioInfo, DecodedAudio, inspect  # noqa: E402
from backend.formats import FORMATS  # noqa: E402
from backend.providers.local import LocalProvider  # noqa: E402
from backend.providers.local.signal import change_voice  # noqa: E402

# About 30 seconds of speech in the base voice.
PASSAGE = (
    "Every morning the baker on our street opens his shop at six. "
    "By seven there is already a queue outside, and the smell of fresh bread reaches the corner. "
    "He has worked there for thirty years and still greets every customer by name. "
    "Last winter the oven broke down during the coldest week of the year. "
    "Instead of closing, he borrowed a neighbour's kitchen and baked through the night. "
    "People still talk about it, and they say the bread that week was the best he ever made. "
    "When I asked him why he never takes a holiday, he only laughed and handed me a warm roll."
)
GOAL_RTF = 0.15
GOAL_FIRST_AUDIO_S = 0.400
CONCURRENT = 2


def _machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _reference(provider: LocalProvider) -> DecodedAudio:
    """A reference speaker made from the base voice: pitch up ~40% and formants up ~15% (no external audio needed)."""
    rate = provider.engine.sample_rate
    samples = np.concatenate(list(provider.engine.speak("Some words to make a reference voice from. " * 4)))
    transform = {
        "formant_ratio": 1.15,
        "median_f0_hz": 125.0,
        "pitch_range_factor": 1.0,
        "source_pitch_floor_hz": 50.0,
        "source_pitch_ceiling_hz": 300.0,
    }
    shifted = change_voice(samples, rate, transform)
    info = AudioInfo("wav", "pcm_s16le", shifted.size / rate, rate, 1)
    return DecodedAudio(info=info, samples=shifted, sample_rate=rate)


def _run(provider: LocalProvider, reference_id: str | None, fmt: str, workdir: Path) -> tuple[float, ...]:
    """(time to first bytes, total time, audio seconds, CPU seconds) for one request."""
    path = workdir / f"out.{fmt}"
    cpu_started = time.process_time()
    started = time.perf_counter()
    stream = provider.synthesize(text=PASSAGE, reference_id=reference_id, fmt=fmt)
    first = None
    size = 0
    with path.open("wb") as fh:
        for chunk in stream.chunks:
            if first is None and chunk:
                first = time.perf_counter() - started
            fh.write(chunk)
            size += len(chunk)
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    try:
        if fmt == "pcm":
            seconds = size / 2 / stream.sample_rate
        else:
            seconds = inspect(path, max_seconds=600).duration
    finally:
        path.unlink(missing_ok=True)
    return first or total, total, seconds, cpu


def _concurrent(provider: LocalProvider, reference_id: str, workdir: Path) -> tuple[float, float]:
    """Median wall time and audio seconds of CONCURRENT requests made at once (the server is multi-threaded)."""
    results: list[tuple[float, ...]] = []

    def worker(index: int) -> None:
        sub = workdir / f"c{index}"
        sub.mkdir(exist_ok=True)
        results.append(_run(provider, reference_id, "mp3", sub))
        sub.rmdir()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statistics.median(r[1] for r in results), statistics.median(r[2] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="requests per cell; medians are shown")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        provider = LocalProvider(workdir / "data")
        started = time.perf_counter()
        provider.engine.voice  # noqa: B018 - cold load
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        reference = _reference(provider)
        voice = provider.create_voice(title="bench", audio_path=workdir / "ref.wav", audio=reference, transcript=None)
        create_s = time.perf_counter() - started
        _run(provider, voice.model_id, "wav", workdir)  # warm-up

        rows = []
        for label, reference_id in (("plain", None), ("matched", voice.model_id)):
            for fmt in FORMATS:
                results = [_run(provider, reference_id, fmt, workdir) for _ in range(args.runs)]
                seconds = statistics.median(r[2] for r in results)
                rtfs = [r[1] / r[2] for r in results]
                firsts = [r[0] for r in results]
                cpu = statistics.median(r[3] / r[2] for r in results)
                rtf, first = statistics.median(rtfs), statistics.median(firsts)
                rows.append((label, fmt, seconds, rtf, min(rtfs), first, min(firsts), cpu))
        concurrent_wall, concurrent_audio = _concurrent(provider, voice.model_id, workdir)
        provider.delete_voice(voice.model_id)

    print(f"Machine: {_machine()}; 1-min load average before/after: {load_before:.2f}/{os.getloadavg()[0]:.2f}")
    print(f"Model load (cold): {load_s:.2f} s; create_voice incl. one-off base-voice calibration: {create_s:.2f} s")
    print(f"Passage: {len(PASSAGE)} chars; medians of {args.runs} requests")
    print(
        f"{'voice':8} {'format':6} {'audio s':>8} {'RTF med':>8} {'RTF best':>8} {'1st ms med':>10} {'1st ms best':>11}"
        f" {'CPU s/audio s':>13}"
    )
    for label, fmt, seconds, rtf, rtf_best, first, first_best, cpu in rows:
        print(
            f"{label:8} {fmt:6} {seconds:8.2f} {rtf:8.3f} {rtf_best:8.3f} {first * 1000:10.0f}"
            f" {first_best * 1000:11.0f} {cpu:13.3f}"
        )
    worst_rtf = max(r[3] for r in rows)
    worst_first = max(r[5] for r in rows)
    print(
        f"goal RTF <= {GOAL_RTF}: {'met' if worst_rtf <= GOAL_RTF else 'MISSED'} (worst median {worst_rtf:.3f}); "
        f"first audio <= {GOAL_FIRST_AUDIO_S * 1000:.0f} ms: "
        f"{'met' if worst_first <= GOAL_FIRST_AUDIO_S else 'MISSED'} (worst median {worst_first * 1000:.0f} ms)"
    )
    print(
        f"{CONCURRENT} concurrent matched mp3 requests: each took {concurrent_wall:.2f} s (median) for "
        f"{concurrent_audio:.1f} s of audio: RTF {concurrent_wall / concurrent_audio:.3f} per request"
    )
    if load_before > 0.5:
        print("note: other work was running before the bench started (load average > 0.5); figures include it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
