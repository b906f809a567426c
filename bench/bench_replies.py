"""Replies benchmark: how soon an echo's reply is heard. Prints a table.

    .venv/bin/python bench/bench_replies.py [--rounds N] [--only fake offline]

Echo runs under gunicorn with the local voice engine and a voice cloned from tests/data; each round posts a
message to POST /api/conversation/<echo>/reply with ``Accept: text/event-stream``, fetches ``audio_url`` the
moment the ``audio`` event arrives, and times its first byte.

``fake``: the language model is tests/fake_llm.py with 300 ms to the first token and 50 tokens a second.
Measured: from the request to the first audio byte, minus the moment the fake finished sending the first
sentence (its final punctuation), which is what Echo adds. Goal: at most 300 ms. Echo speaks the first clause
of a reply first, so the audio can begin before that sentence is finished (a negative figure); the time from
the first clause (its comma) to the first audio byte is printed too.

``offline``: the default with nothing configured, the bundled SmolLM2-135M-Instruct in-process; warm (one
reply first). Measured: the request to the first audio byte (goal: within 1.5 s), and 4 conversations at once
(goal: all answered).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_serving import Echo  # noqa: E402
from bench.common import machine  # noqa: E402
from tests.fake_llm import FakeLLM, Script, tokens_of  # noqa: E402
from tests.helpers import reference_voice  # noqa: E402

FIRST_CLAUSE = "Hello there,"
FIRST_SENTENCE = FIRST_CLAUSE + " love, it is so good to hear your voice again."
REPLY = FIRST_SENTENCE + " The roses are blooming by the back door. Come and see them this Sunday, will you?"
QUESTIONS = ["How is the garden?", "What did you cook today?", "Do you remember the seaside?", "Tell me about Dad."]


def start_echo(data_dir: Path, **env: str) -> tuple[Echo, str, str]:
    """Echo on the local voice engine, a user, and an echo with a voice cloned from the test recording."""
    settings = {
        "FISH_AUDIO_API_KEY": "",  # the local voice engine
        "REPLY_RATE_LIMIT": "1000000 per minute",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    echo = Echo("http://127.0.0.1:9", data_dir, **settings)
    user = requests.post(f"{echo.url}/api/users/local%7Cbench", timeout=30).json()["user"]
    with reference_voice().open("rb") as fh:
        created = requests.post(
            f"{echo.url}/api/upload-reference",
            data={"name": "Rose", "user_id": user, "consent": "true"},
            files={"audio": ("rose.wav", fh, "audio/wav")},
            timeout=300,
        )
    created.raise_for_status()
    body = {
        "user_id": user,
        "name": "Rose",
        "persona_prompt": "A warm grandmother.",
        "voice_model_id": created.json()["model_id"],
    }
    echo_id = requests.post(f"{echo.url}/api/echo", json=body, timeout=30).json()["echo"]["_id"]
    return echo, user, echo_id


def one_reply(echo: Echo, user: str, echo_id: str, question: str) -> dict[str, float | None]:
    """Times (perf_counter) of the request, the audio event and the first audio byte; and the status."""
    started = time.perf_counter()
    result: dict[str, float | None] = {"started": started, "audio_event": None, "first_audio": None, "ok": 0.0}
    with requests.post(
        f"{echo.url}/api/conversation/{echo_id}/reply",
        json={"user_id": user, "content": question, "format": "mp3"},
        headers={"Accept": "text/event-stream"},
        stream=True,
        timeout=120,
    ) as response:
        if response.status_code != 200:
            return result
        kind = None
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "audio" and result["first_audio"] is None:
                result["audio_event"] = time.perf_counter()
                url = json.loads(line[6:])["audio_url"]
                with requests.get(f"{echo.url}{url}", stream=True, timeout=120) as audio:
                    next(audio.iter_content(chunk_size=1))
                    result["first_audio"] = time.perf_counter()
            elif line.startswith("data: ") and kind == "done":
                result["ok"] = 1.0
    return result


def bench_fake(rounds: int) -> list[tuple[str, str, str]]:
    fake = FakeLLM()
    fake.script = Script(text=REPLY, first_token_delay=0.3, tokens_per_second=50)
    end_of_first = len(tokens_of(FIRST_SENTENCE)) - 1  # the token with the sentence's full stop
    end_of_clause = len(tokens_of(FIRST_CLAUSE)) - 1  # the comma: Echo speaks the first clause first
    with tempfile.TemporaryDirectory() as directory:
        echo, user, echo_id = start_echo(Path(directory) / "data", LLM_BASE_URL=fake.url, LLM_MODEL=fake.model)
        try:
            one_reply(echo, user, echo_id, "Warm-up")
            added, after_clause, totals = [], [], []
            for index in range(rounds):
                times = one_reply(echo, user, echo_id, QUESTIONS[index % len(QUESTIONS)])
                if times["first_audio"] is None:
                    continue
                added.append(times["first_audio"] - fake.sent[end_of_first])
                after_clause.append(times["first_audio"] - fake.sent[end_of_clause])
                totals.append(times["first_audio"] - times["started"])
        finally:
            echo.stop()
            fake.close()
    return [
        (
            "fake model (300 ms to first token, 50 tokens/s), local voice engine",
            "",
            f"{len(added)}/{rounds} replies spoken",
        ),
        ("  request to first audio byte (median)", f"{statistics.median(totals) * 1000:.0f} ms", ""),
        (
            "  first sentence sent by the model to first audio byte (median)",
            f"{statistics.median(added) * 1000:.0f} ms",
            "goal <= 300 ms",
        ),
        ("  the same, worst", f"{max(added) * 1000:.0f} ms", ""),
        (
            "  first clause sent (what Echo speaks first) to first audio byte (median)",
            f"{statistics.median(after_clause) * 1000:.0f} ms",
            "",
        ),  # fmt: skip
        ("  the same, worst", f"{max(after_clause) * 1000:.0f} ms", ""),
    ]


def bench_offline(rounds: int) -> list[tuple[str, str, str]]:
    with tempfile.TemporaryDirectory() as directory:
        echo, user, echo_id = start_echo(Path(directory) / "data")  # nothing configured: the bundled model
        try:
            one_reply(echo, user, echo_id, "Warm-up")
            firsts = []
            for index in range(rounds):
                times = one_reply(echo, user, echo_id, QUESTIONS[index % len(QUESTIONS)])
                if times["first_audio"] is not None:
                    firsts.append(times["first_audio"] - times["started"])
            with ThreadPoolExecutor(max_workers=4) as pool:
                started = time.perf_counter()
                together = list(pool.map(lambda q: one_reply(echo, user, echo_id, q), QUESTIONS))
                wall = time.perf_counter() - started
            answered = sum(1 for t in together if t["ok"])
            heard = [t["first_audio"] - t["started"] for t in together if t["first_audio"] is not None]
        finally:
            echo.stop()
    return [
        (
            "offline default (bundled SmolLM2-135M-Instruct + local voice engine), warm",
            "",
            f"{len(firsts)}/{rounds} spoken",
        ),
        ("  request to first audio byte (median)", f"{statistics.median(firsts) * 1000:.0f} ms", "goal <= 1500 ms"),
        ("  the same, worst", f"{max(firsts) * 1000:.0f} ms", ""),
        ("4 conversations at once: answered", f"{answered}/4", "goal 4/4"),
        (
            "  first audio byte, median / worst",
            f"{statistics.median(heard) * 1000:.0f} / {max(heard) * 1000:.0f} ms" if heard else "none",
            "",
        ),
        ("  wall time for all four", f"{wall:.1f} s", ""),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="replies measured per section (default 8)")
    parser.add_argument("--only", nargs="+", choices=("fake", "offline"), default=["fake", "offline"])
    args = parser.parse_args()
    print(f"\nEcho replies benchmark — {machine()}\n")
    print(f"{'measure'.ljust(70)}  {'result':>16}  note")
    print(f"{'-' * 70}  {'-' * 16}  {'-' * 24}", flush=True)
    sections = {"fake": bench_fake, "offline": bench_offline}
    for name in args.only:
        for measure, value, note in sections[name](args.rounds):
            print(f"{measure.ljust(70)}  {value:>16}  {note}", flush=True)


if __name__ == "__main__":
    main()
