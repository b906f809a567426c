"""Memory of the local voice engine under load: Echo under gunicorn, many syntheses at once. Prints a table.

    .venv/bin/python bench/bench_memory.py [--requests 40] [--variant NAME:KEY=VALUE,KEY=VALUE ...]
                                           [--baseline-ref GIT_REF] [--voice PATH]

Starts Echo as production does (`gunicorn -c gunicorn.conf.py`, VOICE_PROVIDER=local, the embedded store,
a temporary DATA_DIR), clones a local voice, runs one synthesis to warm up, then measures the worker's
resident memory (RSS) at idle, fires ``--requests`` concurrent POST /api/synthesize (mp3, a paragraph of
three sentences, each text different so the cache never answers) while sampling RSS every 100 ms, and
samples it again 10 s and 30 s after the last answer. The kernel's own high-water mark (VmHWM, reset after
the idle measurement) backs up the sampled peak.

Each ``--variant`` runs on a fresh server with extra environment (e.g. ``unbounded:LOCAL_ENGINE_WORKERS=64``);
``--baseline-ref`` also runs the backend as it was at a git commit (exported to a temporary folder), so a
before/after comparison is one command. The working tree is never touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import export_tree, machine  # noqa: E402
from tests.helpers import free_port, reference_voice, wait_for  # noqa: E402

DEFAULT_VOICE = reference_voice()
GOAL_PEAK_MB = 1200.0
GOAL_RETURN_MB = 100.0
SENTENCES = (
    "Request number {n} asks the engine for a short paragraph about the weather by the sea.",
    "The wind was cold this morning, but by noon the sun had warmed the sand and the water was calm.",
    "We walked along the shore until the light began to fade, and then we hurried home for supper.",
)


def status_kb(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


class Echo:
    """Echo under gunicorn with the local engine, run from ``tree`` (the repository or an exported commit)."""

    def __init__(self, tree: Path, data_dir: Path, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("FISH_AUDIO", "MONGO", "AUTH0"))}
        environment.update(
            DATA_DIR=str(data_dir),
            VOICE_PROVIDER="local",
            API_HOST="127.0.0.1",
            API_PORT=str(self.port),
            LOG_LEVEL="WARNING",
            UPLOAD_RATE_LIMIT="1000000 per minute",
            SYNTHESIZE_RATE_LIMIT="1000000 per minute",
            PYTHONPATH=str(tree),
        )
        environment.update(env)
        self.log = tempfile.NamedTemporaryFile(prefix="echo-bench-", suffix=".log", delete=False)
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
        self.process = subprocess.Popen(
            [*command, "-c", "gunicorn.conf.py"], cwd=tree, env=environment, stdout=self.log, stderr=self.log
        )
        wait_for(f"{self.url}/health", timeout=120, process=self.process)
        self.pid = self.worker_pid()

    def worker_pid(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            children = path.read_text().split() if path.exists() else []
            if children:
                return int(children[0])
            time.sleep(0.1)
        raise RuntimeError("gunicorn started no worker")

    def rss_mb(self) -> float:
        return status_kb(self.pid, "VmRSS") / 1024

    def hwm_mb(self) -> float:
        return status_kb(self.pid, "VmHWM") / 1024

    def reset_hwm(self) -> bool:
        """Reset the kernel's peak-RSS mark (Linux, own process or root)."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def threads(self) -> int:
        return status_kb(self.pid, "Threads")

    def wait_loaded(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            voice = requests.get(f"{self.url}/health", timeout=10).json()["components"]["voice_provider"]
            if voice.get("loaded"):
                return
            time.sleep(0.2)
        raise RuntimeError("the local engine did not load")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Sampler(threading.Thread):
    """RSS of the worker every ``interval`` seconds, with the time of each sample."""

    def __init__(self, echo: Echo, interval: float = 0.1):
        super().__init__(daemon=True)
        self.echo, self.interval = echo, interval
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.samples.append((time.monotonic(), self.echo.rss_mb()))
            except (OSError, ValueError):
                return
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


@dataclass
class Result:
    name: str
    env: dict[str, str]
    idle_mb: float = 0.0
    peak_mb: float = 0.0
    hwm_mb: float | None = None
    after_10_mb: float = 0.0
    after_30_mb: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    retry_after: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    threads_peak: int = 0
    error: str = ""


def synthesize(url: str, body: dict, timeout: float = 600.0) -> tuple[int, float, str | None]:
    started = time.perf_counter()
    response = requests.post(f"{url}/api/synthesize", json=body, timeout=timeout)
    elapsed = time.perf_counter() - started
    return response.status_code, elapsed, response.headers.get("Retry-After")


def run_variant(name: str, tree: Path, env: dict[str, str], voice: Path, count: int, settle: float) -> Result:
    result = Result(name=name, env=env)
    with tempfile.TemporaryDirectory(prefix="echo-bench-mem-") as directory:
        echo = Echo(tree, Path(directory) / "data", env)
        try:
            echo.wait_loaded()
            user = requests.post(f"{echo.url}/api/users/local%7Cbench", timeout=30).json()["user"]
            with voice.open("rb") as fh:
                created = requests.post(
                    f"{echo.url}/api/upload-reference",
                    data={"name": "Bench voice", "user_id": user, "consent": "true"},
                    files={"audio": (voice.name, fh, "audio/wav")},
                    timeout=300,
                )
            created.raise_for_status()
            model_id = created.json()["model_id"]

            def body(n: int) -> dict:
                text = " ".join(SENTENCES).format(n=n)
                return {"text": text, "reference_id": model_id, "user_id": user, "format": "mp3"}

            status, _, _ = synthesize(echo.url, body(0))  # warm-up: every code path once
            if status != 200:
                raise RuntimeError(f"warm-up synthesis answered {status}")
            time.sleep(settle)
            idle = [echo.rss_mb()]
            for _ in range(9):
                time.sleep(0.2)
                idle.append(echo.rss_mb())
            result.idle_mb = statistics.median(idle)
            hwm_reset = echo.reset_hwm()

            sampler = Sampler(echo)
            sampler.start()
            thread_counts: list[int] = []
            stop_threads = threading.Event()

            def count_threads() -> None:
                while not stop_threads.wait(0.5):
                    thread_counts.append(echo.threads())

            counter = threading.Thread(target=count_threads, daemon=True)
            counter.start()
            barrier = threading.Barrier(count)

            def one(n: int) -> tuple[int, float, str | None]:
                barrier.wait()
                return synthesize(echo.url, body(n))

            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=count) as pool:
                answers = list(pool.map(one, range(1, count + 1)))
            finished = time.monotonic()
            result.wall_s = finished - started
            for status, elapsed, retry in answers:
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == 200:
                    result.latencies.append(elapsed)
                if status == 503 and retry:
                    result.retry_after.add(retry)
            time.sleep(max(0.0, finished + 10.0 - time.monotonic()))
            result.after_10_mb = echo.rss_mb()
            time.sleep(max(0.0, finished + 30.0 - time.monotonic()))
            result.after_30_mb = echo.rss_mb()
            sampler.stop()
            stop_threads.set()
            counter.join()
            result.peak_mb = max(rss for _, rss in sampler.samples)
            result.hwm_mb = echo.hwm_mb() if hwm_reset else None
            result.threads_peak = max(thread_counts, default=echo.threads())
        except Exception as exc:  # report it in the table and go on with the next variant
            result.error = f"{type(exc).__name__}: {exc}"
            log = Path(echo.log.name).read_text(errors="replace")[-2000:]
            print(f"[{name}] failed: {result.error}\n{log}", file=sys.stderr, flush=True)
        finally:
            echo.stop()
            Path(echo.log.name).unlink(missing_ok=True)
    return result


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, settings = text.partition(":")
    env = {}
    for item in filter(None, settings.split(",")):
        key, _, value = item.partition("=")
        env[key.strip()] = value.strip()
    return name, env


def print_table(results: list[Result], count: int) -> None:
    columns = [
        ("variant", 22),
        ("idle MB", 8),
        ("peak MB", 8),
        ("VmHWM MB", 9),
        ("+10 s MB", 9),
        ("+30 s MB", 9),
        ("30 s - idle", 11),
        ("200", 4),
        ("503", 4),
        ("other", 5),
        ("median s", 9),
        ("max s", 7),
        ("wall s", 7),
        ("threads", 7),
    ]
    print()
    print("  ".join(title.rjust(width) if i else title.ljust(width) for i, (title, width) in enumerate(columns)))
    print("  ".join("-" * width for _, width in columns))
    for r in results:
        if r.error:
            print(f"{r.name.ljust(22)}  failed: {r.error}")
            continue
        ok = r.statuses.get(200, 0)
        busy = r.statuses.get(503, 0)
        other = count - ok - busy
        cells = [
            r.name,
            f"{r.idle_mb:.0f}",
            f"{r.peak_mb:.0f}",
            f"{r.hwm_mb:.0f}" if r.hwm_mb is not None else "n/a",
            f"{r.after_10_mb:.0f}",
            f"{r.after_30_mb:.0f}",
            f"{r.after_30_mb - r.idle_mb:+.0f}",
            str(ok),
            str(busy),
            str(other),
            f"{statistics.median(r.latencies):.1f}" if r.latencies else "-",
            f"{max(r.latencies):.1f}" if r.latencies else "-",
            f"{r.wall_s:.1f}",
            str(r.threads_peak),
        ]
        print(
            "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, (_, w)) in enumerate(zip(cells, columns, strict=True)))
        )
    print()
    for r in results:
        if r.error:
            continue
        peak = max(r.peak_mb, r.hwm_mb or 0.0)
        met_peak = "met" if peak < GOAL_PEAK_MB else "NOT met"
        met_back = "met" if r.after_30_mb - r.idle_mb <= GOAL_RETURN_MB else "NOT met"
        env = ", ".join(f"{k}={v}" for k, v in r.env.items()) or "defaults"
        statuses = ", ".join(f"{n}x {s}" for s, n in sorted(r.statuses.items()))
        retry = f" (Retry-After on the 503s: {', '.join(sorted(r.retry_after, key=int))} s)" if r.retry_after else ""
        print(
            f"{r.name}: {env}. Answers: {statuses}{retry}. Peak < {GOAL_PEAK_MB:.0f} MB: {met_peak}; "
            f"within {GOAL_RETURN_MB:.0f} MB of idle 30 s after: {met_back}."
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="concurrent syntheses (default 40)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="a server run with extra environment (repeatable); default: one run with the defaults",
    )
    parser.add_argument("--baseline-ref", help="also run the backend as it was at this git commit, first")
    parser.add_argument("--voice", type=Path, default=DEFAULT_VOICE, help="reference recording to clone")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of quiet before the idle measurement")
    args = parser.parse_args()
    if not args.voice.is_file():
        parser.error(f"no reference recording at {args.voice} (pass --voice)")

    print(f"\nEcho local-engine memory benchmark — {machine()}")
    print(
        f"{args.requests} concurrent POST /api/synthesize (mp3, 3 sentences, ~14 s of speech each), gunicorn gthread "
        f"with {os.environ.get('GUNICORN_THREADS', '16')} threads, 1 worker; RSS of the worker sampled every 100 ms.",
        flush=True,
    )
    variants = [parse_variant(v) for v in args.variant] or [("current", {})]
    results = []
    with tempfile.TemporaryDirectory(prefix="echo-bench-tree-") as trees:
        if args.baseline_ref:
            tree = export_tree(args.baseline_ref, Path(trees))
            print(f"running baseline {args.baseline_ref} ...", flush=True)
            results.append(run_variant(f"before ({args.baseline_ref[:10]})", tree, {}, args.voice, args.requests,
                                       args.settle))  # fmt: skip
            shutil.rmtree(tree / "backend", ignore_errors=True)
        for name, env in variants:
            print(f"running {name} ...", flush=True)
            results.append(run_variant(name, REPO, env, args.voice, args.requests, args.settle))
    print_table(results, args.requests)


if __name__ == "__main__":
    main()
