"""How good an echo's words are, step by step: retrieval, facts, whole replies, length, honesty, first words.

An echo of "Walter" with a persona and 62 memories (bench/data/reply_quality.json, written for this bench) is
asked 24 questions in other words than its memories, 6 questions no memory answers, 20 ordinary messages, and
the honesty set (40 sincere "are you real?" messages). Each step below adds one piece of the design, so the table
shows what each changed:

  words only      memories by BM25 alone; the model writes freely (whole sentences kept, length capped)
  + meaning       memories by meaning and words fused (e5 embeddings + BM25)
  + small prompt  the bundled model's prompt: short system message, memories in the first person in the last turn
  + grounded      the reply starts from the memory that answers (or "I don't remember")
  + checks        each sentence checked (letter form, relations, names, numbers, repeats); the model asked again

Columns: retrieval (the asked-for memory among those sent to the model), facts (every key fact of that memory
in the reply), "don't remember" (for the 6 unanswerable questions), whole (replies ending at a sentence end),
median and largest word counts, replies over 70 words, replies claiming to be human or the real person, and
the time to the reply's first sentence (what the voice waits for) at turns 1 and 12 of one conversation.

Run: .venv/bin/python bench/bench_reply_quality.py [--steps all|last] [--endpoint]  (LLM_BASE_URL and LLM_MODEL
set: the endpoint's model is measured too, on the last step).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.database import DatabaseManager  # noqa: E402
from backend.providers.embeddings import LocalEmbedder  # noqa: E402
from backend.services import grounding, replies, writing  # noqa: E402
from backend.services.honesty import Honesty, claims_to_be_real  # noqa: E402
from backend.services.memories import MemoryService  # noqa: E402
from backend.services.prompt import GUIDED_MEMORIES  # noqa: E402
from bench.common import machine  # noqa: E402

DATA = json.loads((Path(__file__).parent / "data" / "reply_quality.json").read_text())
DONT = re.compile(r"\b(?:remember|recall|slipped|forgot|forget)\b", re.IGNORECASE)
STEPS = ["words only", "+ meaning", "+ small prompt", "+ grounded", "+ checks"]


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z0-9']+", text))


class Step:
    def __init__(self, name: str, model, embedder):
        self.name = name
        self.model = model
        self.embedder = embedder if name != "words only" else None
        self.guided = name in ("+ small prompt", "+ grounded", "+ checks")

    def patches(self, stack: ExitStack) -> None:
        stack.enter_context(mock.patch.object(type(self.model), "guided", self.guided))
        if self.name == "+ small prompt":
            stack.enter_context(mock.patch.object(grounding, "asks_about_the_past", lambda _: False))
        if self.name in ("+ small prompt", "+ grounded"):
            stack.enter_context(mock.patch.object(writing, "flaw", lambda *a, **k: None))


def run_step(step: Step, workdir: Path) -> dict:
    db = DatabaseManager(data_dir=workdir / step.name.replace(" ", "_").replace("+", "p"))
    user = db.get_or_create_user("local|bench", None)[0]
    echo = db.create_echo(
        user_id=user["_id"],
        name=DATA["echo"]["name"],
        persona_prompt=DATA["echo"]["persona_prompt"],
        voice_model_id=None,
        talking_with=DATA["echo"]["talking_with"],
        relation=DATA["echo"]["relation"],
    )
    memories = MemoryService(db, step.embedder)
    ids = [memories.add(echo, user["_id"], text)["_id"] for text in DATA["memories"]]
    service = replies.ReplyService(
        db=db,
        model=step.model,
        speech=None,
        voices=None,
        search=memories.search,
        link=str,
        max_tokens=200,
        honesty=Honesty(step.embedder),
    )
    sent: list[bool] = []
    original_search = memories.search

    def spy(echo_id, query, k):
        found = original_search(echo_id, query, k)
        spy.last = [f.memory["_id"] for f in found]
        return found

    service.search = spy
    out = {"retrieval": [], "facts": [], "unknown": [], "whole": [], "words": [], "claims": 0, "replies": []}
    with ExitStack() as stack:
        step.patches(stack)
        for question in DATA["questions"]:
            text = _reply(service, echo, user, question["ask"])
            sent = spy.last[:GUIDED_MEMORIES] if step.guided else spy.last
            out["retrieval"].append(ids[question["memory"]] in sent)
            out["facts"].append(all(fact.lower() in text.lower() for fact in question["facts"]))
            _record(out, text, question["ask"])
        for asked in DATA["unknown"]:
            text = _reply(service, echo, user, asked)
            out["unknown"].append(bool(DONT.search(text)))
            _record(out, text, asked)
        for asked in DATA["ordinary"]:
            _record(out, _reply(service, echo, user, asked), asked)
        # A fresh conversation for the first words at turns 1 and 12.
        db.delete_echo(echo["_id"])
        echo = db.create_echo(user_id=user["_id"], name=echo["name"], persona_prompt=echo["persona_prompt"],
                              voice_model_id=None, talking_with="Anna", relation="granddaughter")  # fmt: skip
        for text in DATA["memories"]:
            memories.add(echo, user["_id"], text)
        # Ordinary messages: the model writes every first sentence (a question a memory answers would start
        # with the memory, written by Echo at once), so turns 1 and 12 do the same work with more history.
        asks = DATA["ordinary"][:12]
        times = []
        for turn, asked in enumerate(asks, start=1):
            started = time.perf_counter()
            run = service.begin(echo=echo, user_id=user["_id"], content=asked, fmt="mp3", speak=False)
            times.append(time.perf_counter() - started)  # begin() returns with the first sentence written
            run.run_to_end()
            if turn == 1:
                first = times[-1]
        out["turn1"], out["turn12"] = first, times[-1]
    db.close()
    return out


def _reply(service, echo, user, asked: str) -> str:
    run = service.begin(echo=echo, user_id=user["_id"], content=asked, fmt="mp3", speak=False)
    return run.run_to_end()["content"]


def _record(out: dict, text: str, asked: str) -> None:
    out["whole"].append(bool(re.search(r"[.!?\u2026][\"'\u201d\u2019)\]]*$", text.strip())))
    out["words"].append(_words(text))
    out["claims"] += any(claims_to_be_real(s, "Walter") for s in writing.sentences_of(text))
    out["replies"].append((asked, text))


def pct(values: list[bool]) -> str:
    return f"{100 * sum(values) / max(len(values), 1):.0f}% ({sum(values)}/{len(values)})"


def honesty_row(embedder) -> str:
    check = Honesty(embedder)
    caught = [check.asks_if_real(m, "Walter") for m in DATA["honesty"]]
    false = [check.asks_if_real(m, "Walter") for m in DATA["ordinary"]]
    patterns = [Honesty(None).asks_if_real(m, "Walter") for m in DATA["honesty"]]
    return (
        f"honesty: patterns alone catch {pct(patterns)} of the sincere messages; with meaning {pct(caught)}; "
        f"ordinary messages taken for it: {sum(false)}/{len(false)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", default="all", choices=["all", "last"])
    parser.add_argument("--show", action="store_true", help="print every reply of the last step")
    args = parser.parse_args()
    from backend.providers.llm.local import LocalChatModel

    model = LocalChatModel(threads=2)
    model.warm_up()
    embedder = LocalEmbedder()
    embedder.warm_up()
    rows = []
    steps = STEPS if args.steps == "all" else STEPS[-1:]
    models = [("bundled", model)]
    if os.environ.get("LLM_BASE_URL") and os.environ.get("LLM_MODEL"):
        from backend.providers.llm.openai_compatible import OpenAICompatibleModel

        endpoint = OpenAICompatibleModel(base_url=os.environ["LLM_BASE_URL"], api_key=os.environ.get("LLM_API_KEY", ""),
                                         model=os.environ["LLM_MODEL"], timeout=60.0)  # fmt: skip
        models.append((os.environ["LLM_MODEL"], endpoint))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, chat in models:
            for name in steps if label == "bundled" else ["+ meaning"]:
                started = time.perf_counter()
                result = run_step(Step(name, chat, embedder), Path(tmp) / label)
                results[(label, name)] = result
                words = result["words"]
                rows.append((
                    f"{label}: {name}", pct(result["retrieval"]), pct(result["facts"]), pct(result["unknown"]),
                    pct(result["whole"]), f"{statistics.median(words):.0f} / {max(words)}",
                    str(sum(w > 70 for w in words)), str(result["claims"]),
                    f"{result['turn1']:.2f} / {result['turn12']:.2f}", f"{time.perf_counter() - started:.0f}",
                ))  # fmt: skip
                print(f"done: {label} {name}", file=sys.stderr, flush=True)
    head = ("step", "retrieval", "facts", "don't remember", "whole", "words med/max", ">70 words", "claims human",
            "first sentence s, turn 1 / 12", "run s")  # fmt: skip
    print(f"machine: {machine()}")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(honesty_row(embedder))
    if args.show:
        last = results[("bundled", steps[-1])]
        for asked, text in last["replies"]:
            print(f"\n> {asked}\n{text}")


if __name__ == "__main__":
    main()
