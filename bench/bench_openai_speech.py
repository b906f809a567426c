"""The OpenAI-compatible speech API against Echo's own: what /v1 adds. Prints a table.

    .venv/bin/python bench/bench_openai_speech.py [--rounds N]

Echo runs under gunicorn with the local voice engine and a voice cloned from tests/data. Each row times, over
``--rounds`` rounds with fresh text each time (so the cache never answers), the request to the first audio byte
and to the last: ``POST /api/synthesize`` with ``stream: true`` (the baseline), then ``POST /v1/audio/speech`` with
a personal API key in a format the engine speaks itself (mp3: no extra step), in formats made from Echo's raw PCM
as it comes (aac, flac), at another speed (atempo), and as Server-Sent Events. The rows run interleaved, round by
round, so a noisy machine weighs on all of them alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_replies import start_echo  # noqa: E402
from bench.common import machine  # noqa: E402

TEXT = "Good morning, love. The kettle is on, and the garden is full of roses this year. Round {n}, as promised."


def timed(method: str, url: str, **kwargs) -> tuple[float, float, int]:
    """Seconds to the first byte of the body and to its end, and the bytes received."""
    started = time.perf_counter()
    first = None
    size = 0
    with requests.request(method, url, stream=True, timeout=300, **kwargs) as response:
        response.raise_for_status()
        for chunk in response.iter_content(chunk_size=None):
            if chunk and first is None:
                first = time.perf_counter() - started
            size += len(chunk)
    return first or 0.0, time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-v1-") as tmp:
        echo, user, echo_id = start_echo(Path(tmp))
        try:
            key = requests.post(f"{echo.url}/api/api-keys", json={"user_id": user, "name": "bench"}, timeout=30).json()[
                "key"
            ]
            auth = {"Authorization": f"Bearer {key}"}

            def baseline(n: int):
                body = {"text": TEXT.format(n=n), "echo_id": echo_id, "user_id": user, "format": "mp3", "stream": True}
                return timed("POST", f"{echo.url}/api/synthesize", json=body)

            def v1(fmt: str, speed: float = 1.0, stream_format: str = "audio"):
                def run(n: int):
                    body = {
                        "model": "tts-1",
                        "voice": echo_id,
                        "input": TEXT.format(n=n),
                        "response_format": fmt,
                        "speed": speed,
                        "stream_format": stream_format,
                    }
                    return timed("POST", f"{echo.url}/v1/audio/speech", json=body, headers=auth)

                return run

            rows = {
                "/api/synthesize, mp3 streamed (baseline)": baseline,
                "/v1/audio/speech, mp3": v1("mp3"),
                "/v1/audio/speech, aac (from PCM)": v1("aac"),
                "/v1/audio/speech, flac (from PCM)": v1("flac"),
                "/v1/audio/speech, mp3 at speed 1.5": v1("mp3", 1.5),
                "/v1/audio/speech, opus as SSE": v1("opus", stream_format="sse"),
            }
            for name, run in rows.items():  # warm every path once (model load, encoders)
                run(-1 - len(name))
            results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in rows}
            for n in range(args.rounds):
                for name, run in rows.items():
                    results[name].append(run(n * 100 + len(name)))
        finally:
            echo.stop()

    print(f"Machine: {machine()}")
    print(f"Local voice engine, {args.rounds} rounds, rows interleaved; medians (worst) in milliseconds.\n")
    print("| request | first audio byte | whole answer | size |")
    print("|---|---|---|---|")
    for name, runs in results.items():
        first = [r[0] * 1000 for r in runs]
        whole = [r[1] * 1000 for r in runs]
        size = statistics.median(r[2] for r in runs) / 1024
        print(
            f"| {name} | {statistics.median(first):,.0f} ({max(first):,.0f}) | "
            f"{statistics.median(whole):,.0f} ({max(whole):,.0f}) | {size:,.0f} KiB |"
        )


if __name__ == "__main__":
    main()
