"""Fixtures the route tests share: a voice cloned through a mocked Fish.Audio and an echo on it, and an app on
the offline local engine."""

from __future__ import annotations

import pytest

from tests.helpers import FISH_MODEL_ID, FISH_URL, fish_model, local_app, upload


@pytest.fixture
def voice(client, fish, user_id, wav_bytes):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    response = upload(client, wav_bytes, name="Grandma", user_id=user_id)
    assert response.status_code == 201
    return response.json["database_record"]


@pytest.fixture
def echo(client, user_id, voice):
    response = client.post(
        "/api/echo",
        json={"user_id": user_id, "name": "Gran", "persona_prompt": "Warm and funny.", "voice_model_id": FISH_MODEL_ID},
    )
    assert response.status_code == 201, response.json
    return response.json["echo"]


@pytest.fixture(scope="module")
def local_client(tmp_path_factory):
    """The local engine through the routes (no key, no network): one app per test module, and its data dir."""
    data_dir = tmp_path_factory.mktemp("local-flow")
    return local_app(data_dir).test_client(), data_dir
