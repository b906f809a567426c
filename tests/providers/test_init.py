"""backend.providers: the shape of each provider's voice ids and the provider an id names, the providers a
configuration offers and how they are set up from the settings, and the protocol both providers keep."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import sys

import pytest

from backend.config import load_settings
from backend.providers import (
    VOICE_ID_SHAPES,
    CreatedVoice,
    SynthesisStream,
    VoiceProvider,
    build_providers,
    provider_named_by,
)
from backend.providers.fish import FishAudioClient, FishAudioProvider
from backend.providers.local import LocalProvider
from backend.storage.profiles import FileProfiles
from tests.helpers import FISH_KEY, FISH_MODEL_ID

# (voice id, the provider whose ids look like it)
IDS = [
    (FISH_MODEL_ID, "fish"),  # 32 hexadecimal digits, as Fish.Audio makes them
    ("a" * 24, "fish"),  # the shortest Fish.Audio id
    ("b" * 40, "fish"),  # the longest
    ("local-" + "0123456789abcdef01234567", "local"),
    ("a" * 23, None),
    ("b" * 41, None),
    (FISH_MODEL_ID.upper(), None),  # neither provider makes upper-case ids
    ("local-" + "0" * 23, None),
    ("local-" + "0" * 25, None),
    ("local-" + "g" * 24, None),
    ("local-../../etc/passwd", None),
    ("LOCAL-" + "0" * 24, None),
    ("fish-" + FISH_MODEL_ID, None),
    (FISH_MODEL_ID + "\n", None),  # the whole id must match, not a line of it
    (" " + FISH_MODEL_ID, None),
    ("", None),
]


@pytest.mark.parametrize(("model_id", "named"), IDS)
def test_an_id_names_the_provider_whose_ids_look_like_it(model_id, named):
    assert provider_named_by(model_id) == named
    matching = [name for name, shape in VOICE_ID_SHAPES.items() if shape.fullmatch(model_id)]
    assert matching == ([named] if named else [])  # never two providers' at once


@pytest.fixture(scope="module")
def offered(tmp_path_factory) -> dict[str, VoiceProvider]:
    settings = load_settings({"DATA_DIR": str(tmp_path_factory.mktemp("data")), "FISH_AUDIO_API_KEY": FISH_KEY}, env={})
    return build_providers(settings)


@pytest.mark.parametrize(("model_id", "named"), IDS)
def test_each_provider_owns_exactly_the_ids_of_its_shape(offered, model_id, named):
    assert {name for name, provider in offered.items() if provider.owns(model_id)} == ({named} if named else set())


# -- which providers a configuration offers -------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "names"),
    [
        ({"FISH_AUDIO_API_KEY": FISH_KEY}, ["fish", "local"]),
        ({"FISH_AUDIO_API_KEY": FISH_KEY, "VOICE_PROVIDER": "local"}, ["fish", "local"]),  # fish's voices still speak
        ({}, ["local"]),
        ({"VOICE_PROVIDER": "fish"}, ["local"]),  # Fish.Audio named, but no key to call it with
        ({"VOICE_PROVIDER": "local"}, ["local"]),
    ],
)
def test_fish_is_offered_with_a_key_and_the_local_engine_always(tmp_path, config, names):
    providers = build_providers(load_settings({"DATA_DIR": str(tmp_path), **config}, env={}))
    assert sorted(providers) == names
    assert all(provider.name == name for name, provider in providers.items())
    assert isinstance(providers["local"], LocalProvider)
    if "fish" in providers:
        assert isinstance(providers["fish"], FishAudioProvider)


def test_the_fish_client_is_set_up_from_the_settings(tmp_path):
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path),
            "FISH_AUDIO_API_KEY": FISH_KEY,
            "FISH_AUDIO_API_URL": "https://fish.example/v1/",
            "FISH_AUDIO_MODEL": "s2.1-pro",
            "FISH_AUDIO_TIMEOUT": "12",
            "FISH_AUDIO_CONNECT_TIMEOUT": "3",
            "FISH_AUDIO_MAX_RETRIES": "4",
            "FISH_AUDIO_QUEUE_TIMEOUT": "7",
        },
        env={},
    )
    client = build_providers(settings)["fish"].client
    assert isinstance(client, FishAudioClient)
    assert (client.base_url, client.tts_model) == ("https://fish.example", "s2.1-pro")
    assert (client.timeout, client.max_retries, client.queue_timeout) == ((3.0, 12.0), 4, 7.0)
    assert client._session.headers["Authorization"] == f"Bearer {FISH_KEY}"


def test_the_local_engine_is_set_up_from_the_settings(tmp_path):
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path),
            "LOCAL_ENGINE_WORKERS": "3",
            "LOCAL_ENGINE_QUEUE": "0",
            "LOCAL_ENGINE_QUEUE_TIMEOUT": "2.5",
            "LOCAL_ENGINE_THREADS": "1",
        },
        env={},
    )
    local = build_providers(settings)["local"]
    pool = local.engine.pool
    assert (pool.workers, pool.queue, pool.timeout, local.engine.threads) == (3, 0, 2.5, 1)
    assert not local.engine.loaded  # offering the engine costs nothing: piper loads on first use
    assert isinstance(local.profiles, FileProfiles) and local.profiles.directory == tmp_path / "voices"
    given = FileProfiles(tmp_path / "elsewhere")
    assert build_providers(settings, given)["local"].profiles is given  # e.g. the database's, with GridFS


@pytest.mark.parametrize(("config", "names"), [({"FISH_AUDIO_API_KEY": FISH_KEY}, ["fish"]), ({}, [])])
def test_without_the_engines_packages_there_is_no_local_provider(tmp_path, monkeypatch, caplog, config, names):
    monkeypatch.setitem(sys.modules, "backend.providers.local", None)  # importing it fails as a missing package
    caplog.set_level(logging.WARNING, logger="backend.providers")
    providers = build_providers(load_settings({"DATA_DIR": str(tmp_path), **config}, env={}))
    assert sorted(providers) == names
    assert [r.getMessage() for r in caplog.records if r.name == "backend.providers"] == [
        "local voice engine unavailable: import of backend.providers.local halted; None in sys.modules"
    ]


# -- the protocol ---------------------------------------------------------------------------------

PROTOCOL_METHODS = ["create_voice", "delete_voice", "owns", "status", "synthesize"]


def test_the_protocol_is_what_the_providers_are_checked_against():
    methods = sorted(name for name, value in vars(VoiceProvider).items() if callable(value) and name[0] != "_")
    assert methods == PROTOCOL_METHODS
    assert set(VoiceProvider.__annotations__) == {"name", "description"}


@pytest.mark.parametrize("cls", [FishAudioProvider, LocalProvider])
def test_both_providers_keep_the_protocol(cls):
    assert isinstance(cls.name, str) and isinstance(cls.description, str) and cls.description
    for method in PROTOCOL_METHODS:
        expected = inspect.signature(getattr(VoiceProvider, method)).parameters.values()
        actual = inspect.signature(getattr(cls, method)).parameters.values()
        assert [(p.name, p.kind) for p in actual] == [(p.name, p.kind) for p in expected], f"{cls.__name__}.{method}"


def test_what_providers_hand_back_is_immutable_and_shares_nothing():
    first, second = CreatedVoice("a" * 32), CreatedVoice("b" * 32)
    assert (first.state, first.details) == ("trained", {})
    assert first.details is not second.details  # each voice's details are its own
    stream = SynthesisStream(chunks=iter([b"x"]), media_type="audio/mpeg")
    assert stream.sample_rate is None
    for value, field in ((first, "model_id"), (stream, "media_type")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, "changed")
