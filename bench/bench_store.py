"""Data-layer benchmark: Echo's lists on the embedded store, mongomock and MongoDB, and the embedded engines.

    python bench/bench_store.py [--quick] [--only lists engines]

``lists``: through DatabaseManager, at 1,000 and 100,000 records per collection: a page of 50 of a user's
voice models, the newest 50 messages of one echo (which holds a tenth of the messages: 10,000 of 100,000),
and adding one message. The embedded store and mongomock side by side, and MongoDB when MONGODB_URI is set.

``engines``: the embedded engines themselves, measured as in the issue that replaced montydb: insert
100,000 messages, read the newest 50 of one echo through a compound index (echo_id, created_at), and
SIGKILL a writer after acknowledged writes, then reopen and count. montydb (the engine before) and
Echo's docstore; neosqlite too when it is installed (``pip install neosqlite``; string ids, as it does not
store bson ObjectIds).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bson import ObjectId  # noqa: E402

from bench.common import machine  # noqa: E402

BASE = datetime(2026, 1, 1, tzinfo=UTC)
ROUNDS = 20


def median_ms(call, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


# -- lists through DatabaseManager ------------------------------------------------------------------


def managers(directory: Path):
    import mongomock

    from backend.database import DatabaseManager

    yield "embedded (docstore)", lambda: DatabaseManager(data_dir=directory / "embedded")
    yield "mongomock", lambda: DatabaseManager(client=mongomock.MongoClient(tz_aware=True))
    if os.environ.get("MONGODB_URI"):
        yield "mongodb", lambda: DatabaseManager(uri=os.environ["MONGODB_URI"], db_name="echo_bench")


def fill(db, size: int, user: ObjectId, echo: ObjectId) -> None:
    others = [ObjectId() for _ in range(10)]
    models, messages = [], []
    for index in range(size):
        owner = user if index % 20 == 0 else others[index % 10]
        when = BASE + timedelta(seconds=index)
        models.append({"model_id": f"m{index}", "user_id": owner, "name": f"v{index}", "created_at": when})
        target = echo if index % 10 == 0 else others[index % 10]
        content = f"message {index}"
        messages.append({"echo_id": target, "user_id": user, "role": "user", "content": content, "created_at": when})
    for start in range(0, size, 5000):
        db._db.voice_models.insert_many(models[start : start + 5000])
        db._db.messages.insert_many(messages[start : start + 5000])


def bench_lists(sizes: list[int]) -> list[tuple[str, ...]]:
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for name, make in managers(Path(directory)):
            for size in sizes:
                db = make()
                user, echo = ObjectId(), ObjectId()
                started = time.perf_counter()
                if name == "mongomock":  # its unique-index check scans on every insert: index after filling
                    fill(db, size, user, echo)
                    db.ping()
                else:
                    db.ping()  # creates the indexes first: every insert keeps them up to date
                    fill(db, size, user, echo)
                filled = time.perf_counter() - started
                models = median_ms(lambda: db.list_voice_models(user, limit=50))  # noqa: B023
                newest = median_ms(lambda: db.list_messages(echo, limit=50))  # noqa: B023
                adding = median_ms(lambda: db.add_message(echo, "user", "one more"), rounds=100)  # noqa: B023
                assert len(db.list_voice_models(user, limit=50)[0]) == 50
                assert len(db.list_messages(echo, limit=50)) == 50
                row = (name, f"{size:,}", f"{filled:.1f} s", f"{models:.2f} ms", f"{newest:.2f} ms", f"{adding:.2f} ms")
                print("  " + "  ".join(row), flush=True)
                rows.append(row)
                if name == "mongodb":
                    db._client.drop_database("echo_bench")
                db.close()
                if name.startswith("embedded"):
                    for file in (Path(directory) / "embedded" / "db").glob("echo_db.sqlite3*"):
                        file.unlink()
    return rows


# -- the engines themselves -------------------------------------------------------------------------


class Engine:
    name = ""

    def open(self, path: Path): ...

    def messages(self, handle): ...

    def close(self, handle) -> None: ...

    def new_id(self):
        return ObjectId()


class Docstore(Engine):
    name = "Echo's docstore (SQLite, WAL, synchronous=FULL)"

    def open(self, path: Path):
        from backend.docstore import DocStore

        return DocStore(path / "store.sqlite3")

    def messages(self, handle):
        return handle.messages

    def close(self, handle) -> None:
        handle.close()


class Montydb(Engine):
    name = "montydb 2.5.6 on SQLite (the engine before)"

    def open(self, path: Path):
        from montydb import MontyClient, set_storage

        path.mkdir(parents=True, exist_ok=True)
        set_storage(str(path), storage="sqlite", use_bson=True)
        return MontyClient(str(path))

    def messages(self, handle):
        return handle["echo_db"]["messages"]

    def close(self, handle) -> None:
        handle.close()


class Neosqlite(Engine):
    name = "neosqlite (string ids)"

    def open(self, path: Path):
        import neosqlite

        return neosqlite.Connection(str(path / "neo.db"))

    def messages(self, handle):
        return handle["messages"]

    def close(self, handle) -> None:
        handle.close()

    def new_id(self):
        return str(ObjectId())


def engines() -> list[Engine]:
    found: list[Engine] = [Montydb(), Docstore()]
    try:
        import neosqlite  # noqa: F401

        found.append(Neosqlite())
    except ImportError:
        pass
    return found


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from pathlib import Path
    from bench.bench_store import engines
    engine = [e for e in engines() if e.name == sys.argv[3]][0]
    messages = engine.messages(engine.open(Path(sys.argv[2])))
    i = 0
    while True:
        messages.insert_one({"_id": engine.new_id(), "n": i, "content": "x" * 200})
        print(i, flush=True)
        i += 1
    """
)


def sigkill_check(engine: Engine, directory: Path) -> str:
    """A writer killed after acknowledged writes; then reopen and count what is there."""
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(REPO), str(directory), engine.name],
        stdout=subprocess.PIPE,
        text=True,
    )
    acknowledged = -1
    while acknowledged < 200:
        acknowledged = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait()
    acknowledged = max([acknowledged, *(int(line) for line in child.stdout if line.strip())])
    child.stdout.close()
    try:
        handle = engine.open(directory)
        found = engine.messages(handle).count_documents({})
        engine.close(handle)
    except Exception as exc:  # noqa: BLE001 - a broken store is the finding
        return f"broken ({type(exc).__name__})"
    return "nothing lost" if found >= acknowledged + 1 else f"lost {acknowledged + 1 - found}"


def bench_engines(count: int) -> list[tuple[str, ...]]:
    rows = []
    for engine in engines():
        with tempfile.TemporaryDirectory() as directory:
            handle = engine.open(Path(directory))
            messages = engine.messages(handle)
            messages.create_index([("echo_id", 1), ("created_at", -1)])
            echo, others = engine.new_id(), [engine.new_id() for _ in range(9)]
            batch = []
            started = time.perf_counter()
            for index in range(count):
                target = echo if index % 10 == 0 else others[index % 9]
                when = BASE + timedelta(seconds=index)
                batch.append({"_id": engine.new_id(), "echo_id": target, "content": f"m{index}", "created_at": when})
                if len(batch) == 5000:
                    messages.insert_many(batch)
                    batch = []
            if batch:
                messages.insert_many(batch)
            inserted = time.perf_counter() - started

            def newest(messages=messages, echo=echo) -> None:
                found = list(messages.find({"echo_id": echo}, sort=[("created_at", -1)], limit=50))
                assert len(found) == 50

            top = median_ms(newest, rounds=5)
            engine.close(handle)
        with tempfile.TemporaryDirectory() as directory:
            killed = sigkill_check(engine, Path(directory))
        row = (engine.name, f"{inserted:.1f} s", f"{top:.2f} ms", killed)
        print("  " + "  ".join(row), flush=True)
        rows.append(row)
    return rows


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 records at most (a smoke run)")
    parser.add_argument("--only", nargs="+", choices=("lists", "engines"), default=["lists", "engines"])
    args = parser.parse_args()
    print(f"\nEcho data-layer benchmark — {machine()}\n", flush=True)
    if "lists" in args.only:
        sizes = [1000, 10000] if args.quick else [1000, 100000]
        rows = bench_lists(sizes)
        print()
        header = ("store", "records", "fill", "list 50 voice models", "newest 50 messages", "add a message")
        print_table(header, rows)
        print(f"(medians of {ROUNDS} reads and 100 adds; the echo read holds a tenth of the messages)\n")
    if "engines" in args.only:
        rows = bench_engines(10000 if args.quick else 100000)
        print()
        count = "10,000" if args.quick else "100,000"
        print_table(("engine", f"insert {count}", "newest 50 of one echo", "SIGKILL after acknowledged writes"), rows)


if __name__ == "__main__":
    main()
