"""fish-speech in the configuration: when it is offered (beside the other engines, so each one's voices keep
speaking), how its client is set up from the settings, the shape of its ids, and the plain refusal of its voices
on a server that does not have it."""

from __future__ import annotations

import pytest

from backend.config import ConfigError, load_settings
from backend.errors import Conflict
from backend.providers import VOICE_ID_SHAPES, build_providers, provider_named_by
from backend.providers.fish_speech import FishSpeechClient, FishSpeechProvider
from backend.services.voices import VoiceService
from backend.storage.profiles import FileProfiles

URL = "http://gpu.lan:8080"
FISH_KEY = "test-key-not-a-secret-0123456789"
VOICE = "fishspeech-0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("config", "names", "active"),
    [
        ({"VOICE_PROVIDER": "fish-speech", "FISH_SPEECH_URL": URL}, ["fish-speech", "local"], "fish-speech"),
        ({"FISH_SPEECH_URL": URL}, ["fish-speech", "local"], "fish-speech"),  # auto, without a Fish.Audio key
        ({"FISH_SPEECH_URL": URL, "FISH_AUDIO_API_KEY": FISH_KEY}, ["fish", "fish-speech", "local"], "fish"),
        (  # fish-speech makes new voices; Fish.Audio's voices still speak
            {"VOICE_PROVIDER": "fish-speech", "FISH_SPEECH_URL": URL, "FISH_AUDIO_API_KEY": FISH_KEY},
            ["fish", "fish-speech", "local"],
            "fish-speech",
        ),
        ({"VOICE_PROVIDER": "local", "FISH_SPEECH_URL": URL}, ["fish-speech", "local"], "local"),  # and the reverse
        ({}, ["local"], "local"),
    ],
)
def test_fish_speech_is_offered_whenever_its_url_is_set(tmp_path, config, names, active):
    settings = load_settings({"DATA_DIR": str(tmp_path), **config}, env={})
    providers = build_providers(settings)
    assert sorted(providers) == names and settings.resolved_provider == active
    assert all(provider.name == name for name, provider in providers.items())
    if "fish-speech" in providers:
        assert isinstance(providers["fish-speech"], FishSpeechProvider)


def test_the_client_is_set_up_from_the_settings(tmp_path):
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path),
            "VOICE_PROVIDER": "fish-speech",
            "FISH_SPEECH_URL": "http://gpu.lan:8080/v1/tts",
            "FISH_SPEECH_API_KEY": "fs-key",
            "FISH_SPEECH_TIMEOUT": "45",
            "FISH_SPEECH_SAMPLE_RATE": "24000",
        },
        env={},
    )
    provider = build_providers(settings)["fish-speech"]
    client = provider.client
    assert isinstance(client, FishSpeechClient)
    assert (client.base_url, client.timeout, client.stream_sample_rate) == ("http://gpu.lan:8080", (5.0, 45.0), 24000)
    assert client._session.headers["Authorization"] == "Bearer fs-key"
    assert isinstance(provider.profiles, FileProfiles) and provider.profiles.directory == tmp_path / "voices"


def test_no_key_no_authorization_header(tmp_path):
    settings = load_settings({"DATA_DIR": str(tmp_path), "FISH_SPEECH_URL": URL}, env={})
    assert "Authorization" not in build_providers(settings)["fish-speech"].client._session.headers


def test_the_voices_profiles_are_where_the_local_engines_are(tmp_path):
    """With GridFS that is the database, so every instance can speak with every fish-speech voice."""
    settings = load_settings({"DATA_DIR": str(tmp_path), "FISH_SPEECH_URL": URL}, env={})
    shared = FileProfiles(tmp_path / "shared")
    providers = build_providers(settings, shared)
    assert providers["fish-speech"].profiles is shared and providers["local"].profiles is shared


def test_fish_speech_without_a_url_is_refused_at_start():
    with pytest.raises(ConfigError, match="FISH_SPEECH_URL"):
        load_settings(env={"VOICE_PROVIDER": "fish-speech"})


@pytest.mark.parametrize(
    ("model_id", "named"),
    [
        (VOICE, "fish-speech"),
        ("fishspeech-" + "0" * 23, None),
        ("fishspeech-" + "0" * 25, None),
        ("fishspeech-" + "G" * 24, None),
        ("FISHSPEECH-" + "0" * 24, None),
        ("fish-speech-" + "0" * 24, None),
        ("fishspeech-../../etc/passwd", None),
        (VOICE + "\n", None),
    ],
)
def test_fish_speech_ids_are_told_apart_from_every_other_engines(model_id, named):
    assert provider_named_by(model_id) == named
    assert [name for name, shape in VOICE_ID_SHAPES.items() if shape.fullmatch(model_id)] == ([named] if named else [])


def test_a_fish_speech_voice_on_a_server_without_it_is_refused_plainly(tmp_path):
    settings = load_settings({"DATA_DIR": str(tmp_path), "FISH_AUDIO_API_KEY": FISH_KEY}, env={})
    providers = build_providers(settings)
    voices = VoiceService(settings, store=None, providers=providers, active="fish", cache=None)
    for recorded in ("fish-speech", None):  # named by its record, or recognised by its id
        with pytest.raises(Conflict, match="self-hosted fish-speech server, which is not configured"):
            voices.provider_for(VOICE, recorded)
