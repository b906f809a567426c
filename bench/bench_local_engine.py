"""Speed of the local engine: real-time factor and time to first audio, per output format, plain and voice-matched.

    python bench/bench_local_engine.py [--runs N] [--baseline-ref GIT_REF]

``--baseline-ref`` measures the engine as it was at a git commit too (its backend exported to a temporary
folder), in the same run, and prints the two side by side: each variant runs in its own process, the
baseline first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and "--tree" in sys.argv:  # measure the backend of another tree (see --baseline-ref)
    sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1])
else:
    sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO))

from backend.audio import AudioInfo, DecodedAudio, inspect  # noqa: E402
from bench.common import export_tree, machine  # noqa: E402

try:  # the layout since the providers package
    from backend.formats import FORMATS  # noqa: E402
    from backend.providers.local import LocalProvider  # noqa: E402
    from backend.providers.local.signal import change_voice  # noqa: E402
except ImportError:  # the layout before it (one local_engine module)
    from backend.local_engine import LocalProvider, change_voice  # type: ignore[no-redef]  # noqa: E402

    from backend.providers import SYNTH_FORMATS as FORMATS  # type: ignore[no-redef]  # noqa: E402

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


def measure(runs: int) -> dict[str, Any]:
    """Every cell of the table for the backend on ``sys.path``."""
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
                results = [_run(provider, reference_id, fmt, workdir) for _ in range(runs)]
                seconds = statistics.median(r[2] for r in results)
                rtfs = [r[1] / r[2] for r in results]
                firsts = [r[0] for r in results]
                cpu = statistics.median(r[3] / r[2] for r in results)
                rtf, first = statistics.median(rtfs), statistics.median(firsts)
                rows.append((label, fmt, seconds, rtf, min(rtfs), first, min(firsts), cpu))
        concurrent_wall, concurrent_audio = _concurrent(provider, voice.model_id, workdir)
        provider.delete_voice(voice.model_id)
    return {
        "load_s": load_s,
        "create_s": create_s,
        "rows": rows,
        "concurrent_wall": concurrent_wall,
        "concurrent_audio": concurrent_audio,
    }


def print_one(result: dict[str, Any], runs: int) -> None:
    rows = result["rows"]
    print(f"Model load (cold): {result['load_s']:.2f} s; create_voice incl. one-off base-voice calibration: "
          f"{result['create_s']:.2f} s")  # fmt: skip
    print(f"Passage: {len(PASSAGE)} chars; medians of {runs} requests")
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
    wall, audio = result["concurrent_wall"], result["concurrent_audio"]
    print(
        f"{CONCURRENT} concurrent matched mp3 requests: each took {wall:.2f} s (median) for "
        f"{audio:.1f} s of audio: RTF {wall / audio:.3f} per request"
    )


def print_side_by_side(before: dict[str, Any], now: dict[str, Any], ref: str, runs: int) -> None:
    print(f"Medians of {runs} requests; before = {ref[:10]}, now = the working tree")
    print(f"{'':15} {'model load s':>14} {'create_voice s':>16}")
    for name, result in (("before", before), ("now", now)):
        print(f"{name:15} {result['load_s']:14.2f} {result['create_s']:16.2f}")
    print(
        f"{'voice':8} {'format':6} {'RTF before':>10} {'RTF now':>8} {'1st ms before':>13} {'1st ms now':>10}"
        f" {'CPU/audio before':>16} {'CPU/audio now':>13}"
    )
    old_rows = {(r[0], r[1]): r for r in before["rows"]}
    for row in now["rows"]:
        old = old_rows.get((row[0], row[1]))
        if old is None:
            continue
        print(
            f"{row[0]:8} {row[1]:6} {old[3]:10.3f} {row[3]:8.3f} {old[5] * 1000:13.0f} {row[5] * 1000:10.0f}"
            f" {old[7]:16.3f} {row[7]:13.3f}"
        )
    for name, result in (("before", before), ("now", now)):
        wall, audio = result["concurrent_wall"], result["concurrent_audio"]
        print(f"{CONCURRENT} concurrent matched mp3 requests, {name}: RTF {wall / audio:.3f} per request")


def run_in_process(tree: Path, runs: int) -> dict[str, Any]:
    """:func:`measure` in a fresh interpreter with ``tree``'s backend first on the path."""
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--runs", str(runs), "--tree", str(tree), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="requests per cell; medians are shown")
    parser.add_argument("--baseline-ref", help="also measure the engine as it was at this git commit, first")
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)  # internal: whose backend to measure
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # internal: print the result
    args = parser.parse_args()

    if args.json:
        print(json.dumps(measure(args.runs)))
        return 0
    load_before = os.getloadavg()[0]
    if args.baseline_ref:
        with tempfile.TemporaryDirectory(prefix="echo-bench-tree-") as trees:
            tree = export_tree(args.baseline_ref, Path(trees), ("backend",))
            print(f"measuring {args.baseline_ref} ...", flush=True)
            before = run_in_process(tree, args.runs)
        print("measuring the working tree ...", flush=True)
        now = run_in_process(REPO, args.runs)
    else:
        now = measure(args.runs)
    print(f"Machine: {machine()}; 1-min load average before/after: {load_before:.2f}/{os.getloadavg()[0]:.2f}")
    if args.baseline_ref:
        print_side_by_side(before, now, args.baseline_ref, args.runs)
    else:
        print_one(now, args.runs)
    if load_before > 0.5:
        print("note: other work was running before the bench started (load average > 0.5); figures include it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
