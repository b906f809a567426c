"""Settings from the environment."""

from __future__ import annotations

import pytest

from backend.api_server import create_app
from backend.config import ConfigError, default_engine_workers, load_settings


def test_defaults():
    s = load_settings(env={})
    assert s.fish_audio_api_url == "https://api.fish.audio"
    assert s.fish_audio_model == "s2-pro"
    assert s.voice_provider == "auto" and s.resolved_provider == "local"
    assert s.mongodb_uri == "" and s.mongodb_db == "echo_db"
    assert (s.api_host, s.api_port, s.max_upload_mb) == ("127.0.0.1", 5000, 20)
    assert s.data_dir.is_absolute()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.fish.audio/v1", "https://api.fish.audio"),
        ("https://api.fish.audio/v1/", "https://api.fish.audio"),
        ("http://127.0.0.1:9000/", "http://127.0.0.1:9000"),
    ],
)
def test_fish_url_normalised(url, expected):
    assert load_settings(env={"FISH_AUDIO_API_URL": url}).fish_audio_api_url == expected


def test_provider_choice():
    assert load_settings(env={"FISH_AUDIO_API_KEY": "k"}).resolved_provider == "fish"
    assert load_settings(env={"FISH_AUDIO_API_KEY": "k", "VOICE_PROVIDER": "local"}).resolved_provider == "local"
    assert load_settings(env={"VOICE_PROVIDER": "fish"}).resolved_provider == "none"
    with pytest.raises(ConfigError):
        load_settings(env={"VOICE_PROVIDER": "cloud"})


def test_aliases_and_overrides(tmp_path):
    s = load_settings(
        {"API_PORT": 6000, "DATA_DIR": str(tmp_path)}, env={"MONGO_URI": "mongodb://db/", "API_PORT": "1"}
    )
    assert s.mongodb_uri == "mongodb://db/" and s.api_port == 6000 and s.data_dir == tmp_path
    assert load_settings(env={"MONGODB_URI": "a", "MONGO_URI": "b"}).mongodb_uri == "a"
    assert load_settings(env={"CORS_ORIGINS": "https://a.example, https://b.example"}).cors_origins == (
        "https://a.example",
        "https://b.example",
    )


@pytest.mark.parametrize("name", ["MAX_UPLOAD_MB", "API_PORT", "FISH_AUDIO_TIMEOUT"])
def test_bad_numbers_are_refused(name):
    with pytest.raises(ConfigError, match=name):
        load_settings(env={name: "lots"})
    with pytest.raises(ConfigError, match=name):
        load_settings(env={name: "-5"})


def test_engine_settings_defaults_and_limits():
    settings = load_settings({}, env={})
    assert settings.local_engine_workers == default_engine_workers() >= 1
    assert settings.local_engine_queue == 32 and settings.local_engine_queue_timeout == 30.0
    assert settings.local_engine_threads == min(default_engine_workers(), 4)
    custom = load_settings(
        {
            "LOCAL_ENGINE_WORKERS": "3",
            "LOCAL_ENGINE_QUEUE": "0",
            "LOCAL_ENGINE_QUEUE_TIMEOUT": "2.5",
            "LOCAL_ENGINE_THREADS": "1",
        },
        env={},
    )
    assert (custom.local_engine_workers, custom.local_engine_queue, custom.local_engine_queue_timeout) == (3, 0, 2.5)
    assert custom.local_engine_threads == 1
    invalid = (
        ("LOCAL_ENGINE_WORKERS", "0"),
        ("LOCAL_ENGINE_QUEUE", "-1"),
        ("LOCAL_ENGINE_QUEUE_TIMEOUT", "x"),
        ("LOCAL_ENGINE_THREADS", "0"),
    )
    for name, value in invalid:
        with pytest.raises(ConfigError, match=name):
            load_settings({name: value}, env={})


def test_mongodb_means_gridfs_unless_told_otherwise():
    assert load_settings({"MONGODB_URI": "mongodb://db.internal/"}, env={}).resolved_audio_store == "gridfs"
    assert load_settings({}, env={}).resolved_audio_store == "files"
    files = load_settings({"MONGODB_URI": "mongodb://db.internal/", "AUDIO_STORE": "files"}, env={})
    assert files.resolved_audio_store == "files"


def test_an_unknown_audio_store_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="AUDIO_STORE"):
        create_app({"DATA_DIR": str(tmp_path), "AUDIO_STORE": "s3"}, environ={})


# -- a self-hosted fish-speech server ---------------------------------------------------------------


def test_fish_speech_settings_and_defaults():
    plain = load_settings(env={})
    assert (plain.fish_speech_url, plain.fish_speech_api_key) == ("", "")
    assert (plain.fish_speech_timeout, plain.fish_speech_sample_rate) == (120.0, 44100)
    custom = load_settings(
        env={
            "VOICE_PROVIDER": "fish-speech",
            "FISH_SPEECH_URL": " http://gpu.lan:8080/ ",
            "FISH_SPEECH_API_KEY": " fs-key ",
            "FISH_SPEECH_TIMEOUT": "30",
            "FISH_SPEECH_SAMPLE_RATE": "24000",
        }
    )
    assert (custom.voice_provider, custom.resolved_provider) == ("fish-speech", "fish-speech")
    assert (custom.fish_speech_url, custom.fish_speech_api_key) == ("http://gpu.lan:8080", "fs-key")
    assert (custom.fish_speech_timeout, custom.fish_speech_sample_rate) == (30.0, 24000)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/v1/tts", "http://127.0.0.1:8080"),  # as fish-speech's own client is given it
        ("https://tts.home.example/fish/v1/", "https://tts.home.example/fish"),  # behind a proxy, under a path
    ],
)
def test_fish_speech_url_normalised(url, expected):
    assert load_settings(env={"FISH_SPEECH_URL": url}).fish_speech_url == expected


@pytest.mark.parametrize("spelling", ["fish-speech", "fish_speech", "FishSpeech", "FISH-SPEECH"])
def test_fish_speech_spellings(spelling):
    settings = load_settings(env={"VOICE_PROVIDER": spelling, "FISH_SPEECH_URL": "http://gpu:8080"})
    assert settings.resolved_provider == "fish-speech"


def test_fish_speech_provider_choice():
    url = {"FISH_SPEECH_URL": "http://gpu:8080"}
    assert load_settings(env=url).resolved_provider == "fish-speech"  # auto, no Fish.Audio key
    assert load_settings(env={**url, "FISH_AUDIO_API_KEY": "k"}).resolved_provider == "fish"
    assert load_settings(env={**url, "VOICE_PROVIDER": "local"}).resolved_provider == "local"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"VOICE_PROVIDER": "fish-speech"}, "needs FISH_SPEECH_URL"),
        ({"VOICE_PROVIDER": "fish-speech", "FISH_SPEECH_URL": "  "}, "needs FISH_SPEECH_URL"),
        ({"FISH_SPEECH_URL": "gpu.lan:8080"}, "must start with http:// or https://"),
        ({"FISH_SPEECH_URL": "ftp://gpu.lan"}, "must start with http:// or https://"),
        ({"FISH_SPEECH_URL": "http://gpu", "FISH_SPEECH_TIMEOUT": "soon"}, "FISH_SPEECH_TIMEOUT"),
        ({"FISH_SPEECH_URL": "http://gpu", "FISH_SPEECH_TIMEOUT": "0"}, "FISH_SPEECH_TIMEOUT"),
        ({"FISH_SPEECH_URL": "http://gpu", "FISH_SPEECH_SAMPLE_RATE": "100"}, "FISH_SPEECH_SAMPLE_RATE"),
        ({"VOICE_PROVIDER": "fish speech"}, "auto, fish, fish-speech or local"),
    ],
)
def test_fish_speech_misconfigurations_are_refused(env, words):
    with pytest.raises(ConfigError, match=words):
        load_settings(env=env)


def test_an_app_with_fish_speech_but_no_url_does_not_start(tmp_path):
    with pytest.raises(ConfigError, match="FISH_SPEECH_URL"):
        create_app({"DATA_DIR": str(tmp_path), "VOICE_PROVIDER": "fish-speech"}, environ={})


@pytest.mark.parametrize("issuer", ["login.example", "login.example/", "ftp://login.example/", "//login.example"])
def test_an_issuer_must_be_a_full_address(issuer):
    """AUTH0_ISSUER is compared with each token's "iss" as written and the page signs in at it: one without
    http(s):// would give the page "connect-src 'self' ://" and a sign-in that fails with nothing said."""
    with pytest.raises(ConfigError, match="AUTH0_ISSUER"):
        load_settings({"AUTH0_ISSUER": issuer, "AUTH0_AUDIENCE": "https://api.example"}, env={})
