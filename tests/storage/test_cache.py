"""The cache of identical requests: keys, namespaces, LRU bounds, on disk and in GridFS."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest

from backend.database import utcnow
from backend.storage.cache import FileCache, GridCache, default_voice_namespace
from backend.storage.files import StoredFile
from backend.storage.names import is_output_name


@pytest.fixture
def source(tmp_path) -> StoredFile:
    path = tmp_path / "speech.mp3"
    path.write_bytes(b"ID3" + os.urandom(2000))
    stored = StoredFile.at(path)
    assert stored is not None
    return stored


def read(stored) -> bytes:
    with stored.open() as fh:
        return fh.read()


# -- keys and names -------------------------------------------------------------------------------


def test_a_key_depends_on_every_part_and_not_on_their_order():
    key = FileCache.key(provider="fish", voice="v", text="Hello", fmt="mp3")
    assert key == FileCache.key(fmt="mp3", text="Hello", voice="v", provider="fish")
    assert len(key) == 40 and int(key, 16) >= 0
    assert key != FileCache.key(provider="fish", voice="v", text="Hello.", fmt="mp3")
    assert key != FileCache.key(provider="local", voice="v", text="Hello", fmt="mp3")
    assert key == GridCache.key(provider="fish", voice="v", text="Hello", fmt="mp3")  # one scheme for both


def test_entry_names_are_per_namespace_and_servable_as_audio_names(tmp_path):
    cache = FileCache(tmp_path, max_bytes=1 << 20)
    key = cache.key(text="Hello")
    one, other = cache.entry_name("voice-1", key, "mp3"), cache.entry_name("voice-2", key, "mp3")
    assert one != other and one.endswith(f"_{key}.mp3")
    assert cache.is_entry_name(one) and is_output_name(one)  # a hit is served by its own audio link
    for bad in ("../x.mp3", f"{one}.part", one.replace(".mp3", ".exe"), None, 3):
        assert not cache.is_entry_name(bad)


def test_the_default_voice_has_a_namespace_per_user():
    assert default_voice_namespace("a" * 24) != default_voice_namespace("b" * 24)
    assert default_voice_namespace(None) == "default:None"


# -- on disk --------------------------------------------------------------------------------------


def test_an_entry_is_a_copy_found_by_request_and_by_name(tmp_path, source):
    cache = FileCache(tmp_path / "cache", max_bytes=1 << 20)
    key = cache.key(text="Hello")
    assert cache.lookup("voice", key, "mp3") is None
    cache.add(source, "voice", key, "mp3")
    hit = cache.lookup("voice", key, "mp3")
    assert read(hit) == read(source) and hit.path != source.path
    assert cache.entry(hit.name) == hit
    assert cache.entry("../speech.mp3") is None and cache.entry(cache.entry_name("other", key, "mp3")) is None
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [hit.name]  # no temporary left


def test_dropping_a_namespace_removes_only_its_entries(tmp_path, source):
    cache = FileCache(tmp_path / "cache", max_bytes=1 << 20)
    for namespace in ("voice-1", "voice-2"):
        for text in ("a", "b"):
            cache.add(source, namespace, cache.key(text=text), "mp3")
    assert cache.drop("voice-1") == 2
    assert cache.drop("voice-1") == 0
    assert cache.lookup("voice-2", cache.key(text="a"), "mp3") is not None
    assert cache.lookup("voice-1", cache.key(text="a"), "mp3") is None


def test_a_switched_off_cache_keeps_nothing(tmp_path, source):
    cache = FileCache(tmp_path / "cache", max_bytes=0)
    cache.add(source, "voice", "k" * 40, "mp3")
    assert cache.lookup("voice", "k" * 40, "mp3") is None and cache.drop("voice") == 0
    assert cache.entry(cache.entry_name("voice", "k" * 40, "mp3")) is None
    assert not (tmp_path / "cache").exists()


def test_audio_that_vanished_before_caching_is_not_cached(tmp_path, source):
    cache = FileCache(tmp_path / "cache", max_bytes=1 << 20)
    source.path.unlink()
    cache.add(source, "voice", "k" * 40, "mp3")  # logged, not raised: the answer was served already
    assert list((tmp_path / "cache").iterdir()) == []


def test_cache_is_bounded_least_recently_used_first(tmp_path):
    cache = FileCache(tmp_path / "cache", max_bytes=10_000)
    source = tmp_path / "one.mp3"
    source.write_bytes(b"x" * 1000)
    for index, key in enumerate(("a", "b", "c")):
        cache.add(StoredFile.at(source), "voice", key, "mp3")
        path = cache.lookup("voice", key, "mp3").path
        os.utime(path, (time.time() - 100 + index, time.time() - 100 + index))
    cache.lookup("voice", "a", "mp3")  # a is used again: b is now the oldest
    cache.max_bytes = 2500
    assert cache.evict() == 1
    assert cache.lookup("voice", "b", "mp3") is None
    assert cache.lookup("voice", "a", "mp3") is not None and cache.lookup("voice", "c", "mp3") is not None


def test_adding_past_the_bound_evicts(tmp_path, source):
    cache = FileCache(tmp_path / "cache", max_bytes=source.size * 2)
    for text in ("a", "b", "c"):
        cache.add(source, "voice", cache.key(text=text), "mp3")
    assert len(list((tmp_path / "cache").iterdir())) == 2


# -- in GridFS ------------------------------------------------------------------------------------


def test_the_shared_cache_is_bounded_least_recently_used_first(shared, tmp_path):
    db = shared.manager()
    cache = GridCache(db, max_bytes=10_000)
    source = tmp_path / "one.mp3"
    source.write_bytes(b"x" * 1000)
    files = shared.db["cache.files"]
    for index, key in enumerate(("a", "b", "c")):
        cache.add(StoredFile.at(source), "voice", key, "mp3")
        name = cache.entry_name("voice", key, "mp3")
        files.update_one(
            {"filename": name}, {"$set": {"metadata.last_used": utcnow() - timedelta(seconds=100 - index)}}
        )
    cache.lookup("voice", "a", "mp3")  # a is used again: b is now the oldest
    cache.max_bytes = 2500
    assert cache.evict() == 1
    assert cache.lookup("voice", "b", "mp3") is None
    assert cache.lookup("voice", "a", "mp3") is not None and cache.lookup("voice", "c", "mp3") is not None
    assert cache.drop("voice") == 2 and shared.db["cache.chunks"].count_documents({}) == 0


def test_two_instances_caching_the_same_answer_at_once_both_succeed(shared, tmp_path):
    db = shared.manager()
    source = tmp_path / "one.mp3"
    source.write_bytes(b"ID3" + b"y" * 5000)
    caches = [GridCache(db, max_bytes=1 << 20) for _ in range(2)]
    threads = [threading.Thread(target=c.add, args=(StoredFile.at(source), "v", "k", "mp3")) for c in caches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    hit = caches[1].lookup("v", "k", "mp3")
    with hit.open() as fh:
        assert fh.read() == source.read_bytes()


def test_a_shared_entry_is_found_by_request_and_by_name_and_dropped_with_its_namespace(shared, source):
    cache = GridCache(shared.manager(), max_bytes=1 << 20)
    key = cache.key(text="Hello")
    cache.add(source, "voice-1", key, "mp3")
    cache.add(source, "voice-2", key, "mp3")
    hit = cache.lookup("voice-1", key, "mp3")
    assert read(hit) == read(source) and hit.path is None
    assert cache.entry(hit.name).file_id == hit.file_id and cache.entry("../x.mp3") is None
    assert cache.drop("voice-1") == 1
    assert cache.lookup("voice-1", key, "mp3") is None and cache.lookup("voice-2", key, "mp3") is not None


def test_without_the_database_the_shared_cache_misses_instead_of_failing(shared, source, monkeypatch):
    from backend.errors import DatabaseUnavailable

    db = shared.manager()
    cache = GridCache(db, max_bytes=1 << 20)
    cache.add(source, "voice", "k" * 40, "mp3")

    def down():
        raise DatabaseUnavailable()

    monkeypatch.setattr(db, "operation", down)
    assert cache.lookup("voice", "k" * 40, "mp3") is None
    cache.add(source, "voice", "j" * 40, "mp3")  # logged, not raised


def test_a_switched_off_shared_cache_keeps_nothing(shared, source):
    cache = GridCache(shared.manager(), max_bytes=0)
    cache.add(source, "voice", "k" * 40, "mp3")
    assert cache.lookup("voice", "k" * 40, "mp3") is None and cache.drop("voice") == 0
    assert shared.db["cache.files"].count_documents({}) == 0
