"""Settings from the environment."""

from __future__ import annotations

import pytest

from backend.config import ConfigError, load_settings


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
