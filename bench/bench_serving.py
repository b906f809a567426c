"""Serving benchmark: Echo in front of a fake Fish.Audio with a set latency. Prints a table.

    .venv/bin/python bench/bench_serving.py [--quick] [--only SECTION ...] [--baseline-ref GIT_REF]

Starts the fake upstream (tests/fake_fish.py) on loopback and Echo under gunicorn (gunicorn.conf.py) with
the embedded store, then measures: time to first audio byte through Echo against straight to the
upstream, 50 concurrent syntheses at 1 s upstream latency, a cache hit, and a long run of mixed requests
(throughput, server errors, open files, memory). The data layer's lists are measured by bench_store.py.

``--baseline-ref`` also runs every section against the backend as it was at a git commit (exported to a
temporary folder), first, so the two columns of the table come from one run on one machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import export_tree, machine  # noqa: E402
from tests.fake_fish import FakeFish, Reply, mp3_like  # noqa: E402
from tests.helpers import free_port, wait_for  # noqa: E402


class Echo:
    """Echo under gunicorn, pointed at the fake upstream."""

    def __init__(self, upstream: str, data_dir: Path, tree: Path = REPO, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("FISH_AUDIO", "MONGO", "AUTH0"))}
        environment.update(
            DATA_DIR=str(data_dir),
            API_HOST="127.0.0.1",
            API_PORT=str(self.port),
            FISH_AUDIO_API_KEY="bench-key-0000000000",
            FISH_AUDIO_API_URL=upstream,
            FISH_AUDIO_MAX_CONCURRENCY="64",
            GUNICORN_THREADS="64",
            UPLOAD_RATE_LIMIT="1000000 per minute",
            SYNTHESIZE_RATE_LIMIT="1000000 per minute",
            LOG_LEVEL="WARNING",
        )
        environment.update(env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=tree,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(f"{self.url}/health", timeout=60, process=self.process)

    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return int(children[0]) if children else self.process.pid

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.worker_pid()}/fd"))

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.worker_pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def first_byte(method: str, url: str, **kwargs) -> float:
    started = time.perf_counter()
    with requests.request(method, url, stream=True, timeout=30, **kwargs) as response:
        response.raise_for_status()
        next(response.iter_content(chunk_size=1))
        elapsed = time.perf_counter() - started
        for _ in response.iter_content(chunk_size=65536):
            pass
    return elapsed


def bench_ttfb(fake: FakeFish, echo: Echo, rounds: int) -> list[tuple[str, str, str]]:
    fake.plan["POST /v1/tts"] = Reply(
        body=mp3_like(60000), content_type="audio/mpeg", first_byte_delay=0.3, chunks=6, chunk_delay=0.05
    )
    direct, through = [], []
    for index in range(rounds):
        body = {"text": f"Time to first byte, round {index}.", "format": "mp3"}
        direct.append(first_byte("POST", f"{fake.url}/v1/tts", json=body, headers={"model": "s2-pro"}))
        through.append(first_byte("POST", f"{echo.url}/api/synthesize", json={**body, "stream": True}))
    d, t = statistics.median(direct), statistics.median(through)
    return [
        ("time to first audio byte, upstream direct (median)", f"{d * 1000:.0f} ms", "300 ms set"),
        ("time to first audio byte through Echo, stream=true (median)", f"{t * 1000:.0f} ms", ""),
        ("  ratio through / direct", f"{t / d:.3f}", "goal <= 1.05"),
    ]


def bench_concurrency(fake: FakeFish, echo: Echo, count: int) -> list[tuple[str, str, str]]:
    fake.plan["POST /v1/tts"] = Reply(body=mp3_like(20000), content_type="audio/mpeg", first_byte_delay=1.0)

    def one(index: int) -> int:
        body = {"text": f"Concurrent request {index} {time.time()}", "format": "mp3"}
        return requests.post(f"{echo.url}/api/synthesize", json=body, timeout=60).status_code

    started = time.perf_counter()
    one(-1)
    single = time.perf_counter() - started
    with ThreadPoolExecutor(max_workers=count) as pool:
        started = time.perf_counter()
        statuses = list(pool.map(one, range(count)))
        together = time.perf_counter() - started
    ok = sum(1 for s in statuses if s == 200)
    return [
        ("one synthesis at 1 s upstream latency", f"{single * 1000:.0f} ms", ""),
        (f"{count} concurrent syntheses, wall time", f"{together * 1000:.0f} ms", f"{ok}/{count} answered 200"),
        ("  ratio to one request", f"{together / single:.2f}", "goal <= 1.5"),
    ]


def bench_cache(fake: FakeFish, echo: Echo, rounds: int) -> list[tuple[str, str, str]]:
    fake.plan["POST /v1/tts"] = Reply(body=mp3_like(40000), content_type="audio/mpeg", first_byte_delay=0.3)
    body = {"text": "The cache should answer this one.", "format": "mp3"}
    requests.post(f"{echo.url}/api/synthesize", json=body, timeout=30).raise_for_status()
    upstream_calls = len(fake.calls("POST", "/v1/tts"))
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = requests.post(f"{echo.url}/api/synthesize", json=body, timeout=30)
        times.append(time.perf_counter() - started)
        assert response.json()["cached"] is True
    assert len(fake.calls("POST", "/v1/tts")) == upstream_calls
    return [("cache hit, whole request (median)", f"{statistics.median(times) * 1000:.1f} ms", "goal < 10 ms")]


def bench_mixed(fake: FakeFish, echo: Echo, total: int, concurrency: int) -> list[tuple[str, str, str]]:
    fake.plan["POST /v1/tts"] = Reply(body=mp3_like(8000), content_type="audio/mpeg", first_byte_delay=0.01)
    session_local = threading.local()

    def session() -> requests.Session:
        if not hasattr(session_local, "s"):
            session_local.s = requests.Session()
        return session_local.s

    user = requests.post(f"{echo.url}/api/users/local%7Cbench").json()["user"]
    echo_id = requests.post(f"{echo.url}/api/echo", json={"user_id": user, "name": "Bench"}).json()["echo"]["_id"]

    def one(index: int) -> int:
        s = session()
        kind = index % 5
        if kind == 0:
            r = s.post(f"{echo.url}/api/synthesize", json={"text": f"mixed {index % 200}", "user_id": user})
            if r.status_code == 200:
                _ = s.get(echo.url + r.json()["audio_url"]).content
        elif kind == 1:
            r = s.post(
                f"{echo.url}/api/conversation/{echo_id}", json={"role": "user", "content": f"m{index}", "user_id": user}
            )
        elif kind == 2:
            r = s.get(f"{echo.url}/api/conversation/{echo_id}?limit=20&user_id={user}")
        elif kind == 3:
            r = s.get(f"{echo.url}/api/voice-models?user_id={user}")
        else:
            r = s.get(f"{echo.url}/api/echo/{'0' * 24}?user_id={user}")  # a 404
        return r.status_code

    # warm up, then measure
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(200)))
    files_before, rss_before = echo.open_files(), echo.rss_mb()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        statuses = list(pool.map(one, range(total)))
    elapsed = time.perf_counter() - started
    files_after, rss_after = echo.open_files(), echo.rss_mb()
    errors = sum(1 for s in statuses if s >= 500)
    return [
        (f"{total:,} mixed requests at concurrency {concurrency}", f"{elapsed:.1f} s", f"{total / elapsed:.0f} req/s"),
        ("  server errors (5xx)", str(errors), "goal 0"),
        ("  open files in the worker, before / after", f"{files_before} / {files_after}", "goal: no growth"),
        ("  worker memory (RSS), before / after", f"{rss_before:.0f} / {rss_after:.0f} MB", "goal: growth < 50 MB"),
    ]


SECTIONS = ("ttfb", "concurrency", "cache", "mixed")


def print_rows(rows: list[tuple[str, str, str]]) -> None:
    for name, value, note in rows:
        print(f"{name.ljust(66)}  {value:>16}  {note}", flush=True)


def print_side_by_side(names: list[str], columns: list[list[tuple[str, str, str]]]) -> None:
    """One row per measure, one column per variant (the variants ran the same sections in the same order)."""
    print(f"\n{'measure'.ljust(66)}  " + "  ".join(f"{name:>16}" for name in names) + "  note")
    print(f"{'-' * 66}  " + "  ".join("-" * 16 for _ in names) + f"  {'-' * 24}")
    for index, (measure, _value, note) in enumerate(columns[-1]):
        values = [column[index][1] if index < len(column) else "" for column in columns]
        print(f"{measure.ljust(66)}  " + "  ".join(f"{value:>16}" for value in values) + f"  {note}", flush=True)


def run_http(tree: Path, only: set[str], quick: bool, show: bool) -> list[tuple[str, str, str]]:
    """The sections that go through HTTP, against Echo started from ``tree``."""
    rows: list[tuple[str, str, str]] = []

    def add(new: list[tuple[str, str, str]]) -> None:
        rows.extend(new)
        if show:
            print_rows(new)

    fake = FakeFish()
    with tempfile.TemporaryDirectory() as directory:
        echo = Echo(fake.url, Path(directory) / "data", tree=tree)
        try:
            if "ttfb" in only:
                add(bench_ttfb(fake, echo, rounds=3 if quick else 10))
            if "concurrency" in only:
                add(bench_concurrency(fake, echo, count=50))
            if "cache" in only:
                add(bench_cache(fake, echo, rounds=5 if quick else 30))
            if "mixed" in only:
                add(bench_mixed(fake, echo, total=1000 if quick else 10000, concurrency=16))
        finally:
            echo.stop()
            fake.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests (a smoke run)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="run these sections")
    parser.add_argument("--baseline-ref", help="also run the HTTP sections against the backend at this git commit")
    args = parser.parse_args()
    quick, only = args.quick, set(args.only)

    print(f"\nEcho serving benchmark — {machine()}\n")
    if only:
        if args.baseline_ref:
            with tempfile.TemporaryDirectory(prefix="echo-bench-tree-") as trees:
                tree = export_tree(args.baseline_ref, Path(trees))
                print(f"running the HTTP sections against {args.baseline_ref} ...", flush=True)
                before = run_http(tree, only, quick, show=False)
            print("running the HTTP sections against the working tree ...", flush=True)
            now = run_http(REPO, only, quick, show=False)
            print_side_by_side([f"before {args.baseline_ref[:7]}", "now"], [before, now])
        else:
            print(f"{'measure'.ljust(66)}  {'result':>16}  note")
            print(f"{'-' * 66}  {'-' * 16}  {'-' * 24}", flush=True)
            run_http(REPO, only, quick, show=True)


if __name__ == "__main__":
    main()
