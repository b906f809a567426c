"""The fish-speech tests' fake server (tests/fake_fish_speech.py, on a loopback socket), the real client and
provider over it, and recordings to clone."""

from __future__ import annotations

import pytest

from backend import audio
from backend.providers.fish_speech import FishSpeechClient, FishSpeechProvider
from backend.providers.fish_speech import client as client_module
from backend.storage.profiles import FileProfiles
from tests.fake_fish_speech import FakeFishSpeech
from tests.helpers import audio_file


@pytest.fixture(scope="module")
def fake_server():
    fake = FakeFishSpeech()
    yield fake
    fake.reset()
    fake.close()


@pytest.fixture
def server(fake_server) -> FakeFishSpeech:
    """The fake fish-speech server, as plain as when it started (one per module: stopping one takes 0.5 s)."""
    fake_server.reset()
    yield fake_server
    fake_server.reset()


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    """Backoff delays the fish-speech client asked for, without waiting for them."""
    delays: list[float] = []
    monkeypatch.setattr(client_module, "_sleep", delays.append)
    return delays


@pytest.fixture
def make_client(server, slept):
    made = []

    def factory(**kwargs) -> FishSpeechClient:
        options = {"base_url": server.url, "timeout": 5.0, "connect_timeout": 2.0, "max_retries": 2, **kwargs}
        client = FishSpeechClient(**options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client._session.close()


@pytest.fixture
def client(make_client) -> FishSpeechClient:
    return make_client()


@pytest.fixture
def profiles(tmp_path) -> FileProfiles:
    return FileProfiles(tmp_path / "voices")


@pytest.fixture
def provider(client, profiles) -> FishSpeechProvider:
    return FishSpeechProvider(client, profiles)


@pytest.fixture(scope="session")
def recordings(tmp_path_factory) -> dict[str, tuple]:
    """Recordings as cloning hands them over (the file, and decoded at its own rate)."""
    folder = tmp_path_factory.mktemp("fish-speech-recordings")
    made = {}
    for name, kind, seconds, rate in (
        ("short", "wav", 4.0, 16000),
        ("long", "wav", 40.0, 16000),
        ("phone", "m4a", 4.0, 48000),
        ("web", "ogg", 4.0, 48000),
    ):
        path = folder / f"{name}.{kind}"
        path.write_bytes(audio_file(kind, seconds=seconds, rate=rate))
        made[name] = (path, audio.decode(path, max_seconds=300))
    return made
