"""Signed audio links as a unit: valid for their file only, for ``ttl`` seconds (time injected where itsdangerous
reads it, no sleeping), with a secret fetched once on first use; and the key kept in DATA_DIR, made once."""

from __future__ import annotations

import os
import stat
import threading
from urllib.parse import parse_qs, urlsplit

import itsdangerous.timed
import pytest

from backend.errors import LinkRejected
from backend.links import AudioLinks, load_secret
from tests.helpers import join_all, names_in

NAME = "GuDSZ1wJ3isSp60NMvzc3KtQZLZiAYt7.mp3"
OTHER = "Xx1wJ3isSp60NMvzc3KtQZLZiAYt7GuD.mp3"
SECRET = "a-secret-of-some-length-0123456789"


class Clock:
    """``time.time`` as itsdangerous reads it."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(itsdangerous.timed, "time", clock)
    return clock


def sig_of(url: str) -> str:
    (sig,) = parse_qs(urlsplit(url).query)["sig"]
    return sig


def test_a_link_names_its_file_and_is_valid_for_it():
    links = AudioLinks(SECRET, 3600)
    url = links.url(NAME)
    assert urlsplit(url).path == f"/api/audio/{NAME}"
    links.check(NAME, sig_of(url))
    AudioLinks(SECRET, 3600).check(NAME, sig_of(url))  # another instance with the same secret agrees


def test_a_link_is_valid_only_for_its_own_file():
    links = AudioLinks(SECRET, 3600)
    sig = sig_of(links.url(NAME))
    with pytest.raises(LinkRejected) as caught:
        links.check(OTHER, sig)
    assert (caught.value.status, caught.value.code) == (403, "audio_link_invalid")
    assert caught.value.message == LinkRejected.default_message


@pytest.mark.parametrize("sig", [None, ""])
def test_a_link_without_a_signature_says_so(sig):
    with pytest.raises(LinkRejected, match="has no signature"):
        AudioLinks(SECRET, 3600).check(NAME, sig)


def test_a_tampered_or_foreign_signature_is_rejected():
    sig = sig_of(AudioLinks(SECRET, 3600).url(NAME))
    stamp, _, mac = sig.partition(".")
    flipped = ("Q" if mac[0] == "A" else "A") + mac[1:]  # the first character's six bits all count
    for forged in (f"{stamp}.{flipped}", "garbage", f"{stamp}.", mac):
        with pytest.raises(LinkRejected, match="invalid or has expired"):
            AudioLinks(SECRET, 3600).check(NAME, forged)
    with pytest.raises(LinkRejected):
        AudioLinks("another-secret-entirely-9876543210", 3600).check(NAME, sig)


def test_a_link_expires_after_its_ttl(clock):
    links = AudioLinks(SECRET, 600)
    sig = sig_of(links.url(NAME))
    clock.now += 600  # the last second it is valid
    links.check(NAME, sig)
    clock.now += 1
    with pytest.raises(LinkRejected, match="has expired; synthesize the text again"):
        links.check(NAME, sig)
    fresh = sig_of(links.url(NAME))  # a new link for the same file is valid again
    links.check(NAME, fresh)


def test_a_link_from_the_future_is_not_accepted(clock):
    links = AudioLinks(SECRET, 600)
    sig = sig_of(links.url(NAME))
    clock.now -= 60
    with pytest.raises(LinkRejected):
        links.check(NAME, sig)


def test_a_fetched_secret_is_fetched_once_on_first_use_whoever_asks_first():
    fetched = []
    gate = threading.Barrier(8)

    def fetch() -> str:
        fetched.append(threading.current_thread().name)
        return SECRET

    links = AudioLinks(fetch, 3600)
    assert fetched == []  # nothing fetched until a link is made or checked
    urls: list[str] = []

    def make() -> None:
        gate.wait(10)
        urls.append(links.url(NAME))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    join_all(threads, timeout=10)
    assert len(fetched) == 1 and len(urls) == 8
    links.check(NAME, sig_of(urls[0]))
    AudioLinks(SECRET, 3600).check(NAME, sig_of(urls[0]))
    assert len(fetched) == 1


def test_a_secret_that_cannot_be_fetched_is_fetched_again_next_time():
    answers = iter([RuntimeError("database away"), SECRET])

    def fetch() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    links = AudioLinks(fetch, 3600)
    with pytest.raises(RuntimeError):
        links.url(NAME)
    links.check(NAME, sig_of(links.url(NAME)))


# -- the key in DATA_DIR ---------------------------------------------------------------------------


def test_a_configured_secret_is_used_and_nothing_is_written(tmp_path):
    assert load_secret("configured-secret", tmp_path) == "configured-secret"
    assert names_in(tmp_path) == []


def test_a_key_is_made_once_readable_by_its_owner_only(tmp_path):
    key = load_secret("", tmp_path)
    assert len(key) == 64 and int(key, 16) >= 0
    assert names_in(tmp_path) == ["secret_key"]  # no temporary left beside it
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert load_secret("", tmp_path) == key


def test_a_kept_key_is_read_as_it_is(tmp_path):
    (tmp_path / "secret_key").write_text("written-by-hand\n")
    assert load_secret("", tmp_path) == "written-by-hand"


def test_concurrent_starters_agree_on_one_key(tmp_path):
    starters = 16
    gate = threading.Barrier(starters)
    keys: list[str] = []

    def start() -> None:
        gate.wait(10)
        keys.append(load_secret("", tmp_path))

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    join_all(threads, timeout=10)
    assert len(keys) == starters and len(set(keys)) == 1
    assert (tmp_path / "secret_key").read_text() == keys[0]
    assert names_in(tmp_path) == ["secret_key"]
