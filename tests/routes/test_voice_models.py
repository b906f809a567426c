"""Voice models: /api/voice-models (list, page, read, delete everywhere) and who may see them."""

from __future__ import annotations

import pytest

from tests.helpers import FISH_MODEL_ID, FISH_URL, fetch, files_under, fish_model, upload


def test_list_and_get_voice_models(client, user_id, voice):
    listing = client.get(f"/api/voice-models?user_id={user_id}").json
    assert listing["count"] == 1 and listing["total"] == 1
    assert listing["voice_models"][0]["model_id"] == FISH_MODEL_ID
    one = client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").json["voice_model"]
    assert one["name"] == "Grandma" and one["user_id"] == user_id and one["reference_id"] == FISH_MODEL_ID
    assert "reference_audio" not in one


def test_voice_model_listing_needs_a_valid_user(client):
    assert client.get("/api/voice-models").status_code == 400
    assert client.get("/api/voice-models?user_id=123").status_code == 400
    assert client.get(f"/api/voice-models?user_id={'a' * 24}").status_code == 404
    assert client.get(f"/api/voice-models/unknown?user_id={'a' * 24}").status_code == 404


def test_voice_model_pagination(client, fish, user_id, wav_bytes):
    ids = [f"{i:032x}" for i in range(5)]
    for model_id in ids:
        fish.post(f"{FISH_URL}/model", json=fish_model(model_id), status=201)
        assert upload(client, wav_bytes, user_id=user_id).status_code == 201
    page = client.get(f"/api/voice-models?user_id={user_id}&limit=2&offset=1").json
    assert page["total"] == 5 and page["count"] == 2
    assert [m["model_id"] for m in page["voice_models"]] == [ids[3], ids[2]]  # newest first
    assert client.get(f"/api/voice-models?user_id={user_id}&limit=0").status_code == 400
    assert client.get(f"/api/voice-models?user_id={user_id}&limit=x").status_code == 400


def test_delete_voice_model_removes_it_everywhere(client, fish, user_id, voice, echo, data_dir):
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=200)
    assert len(files_under(data_dir / "references")) == 1
    response = client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}")
    assert response.status_code == 200 and response.json["success"] is True
    assert fish.calls[-1].request.method == "DELETE"
    assert files_under(data_dir / "references") == []
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 404
    gone = client.get(f"/api/echo/{echo['_id']}?user_id={user_id}").json["echo"]
    assert gone["voice_model_id"] is None and gone["voice_status"] == "deleted"
    # repeating it changes nothing and calls nobody
    calls = len(fish.calls)
    assert client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 404
    assert len(fish.calls) == calls


def test_delete_voice_model_already_gone_at_fish(client, fish, user_id, voice):
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=404, json={"status": 404, "message": "Not found"})
    assert client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 200
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 404


def test_delete_voice_model_keeps_record_when_fish_fails(client, fish, user_id, voice, data_dir):
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=503, json={"status": 503, "message": "busy"})
    response = client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}")
    assert response.status_code == 503
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 200  # can be retried
    assert len(files_under(data_dir / "references")) == 1


def test_other_users_cannot_see_or_delete_a_voice(client, fish, user_id, voice):
    other = client.post("/api/users/local|mallory").json["user"]
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={other}").status_code == 404
    assert client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={other}").status_code == 404
    assert client.get(f"/api/voice-models?user_id={other}").json["count"] == 0
    assert not [c for c in fish.calls if c.request.method == "DELETE"]


# -- renaming ---------------------------------------------------------------------------------------


def test_rename_a_voice_changes_its_name_and_nothing_else(client, user_id, voice):
    response = client.patch(f"/api/voice-models/{FISH_MODEL_ID}", json={"user_id": user_id, "name": "  Nana  "})
    assert response.status_code == 200, response.json
    renamed = response.json["voice_model"]
    assert renamed["name"] == "Nana" and renamed["model_id"] == FISH_MODEL_ID
    assert {k: v for k, v in renamed.items() if k not in ("name", "updated_at")} == {
        k: v for k, v in voice.items() if k not in ("name", "updated_at")
    }
    listed = client.get(f"/api/voice-models?user_id={user_id}").json["voice_models"]
    assert [m["name"] for m in listed] == ["Nana"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),  # no name
        ({"name": ""}, 400),
        ({"name": "   "}, 400),
        ({"name": "x" * 101}, 400),
        ({"name": 5}, 400),
        ({"name": None}, 400),
        ({"name": "Nana", "model_id": "other"}, 400),  # only the name can change
        ({"name": "Nana", "provider": "local"}, 400),
    ],
)
def test_rename_refuses_bad_names_and_other_fields(client, user_id, voice, body, status):
    response = client.patch(f"/api/voice-models/{FISH_MODEL_ID}", json={"user_id": user_id, **body})
    assert response.status_code == status and response.json["success"] is False
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").json["voice_model"]["name"] == "Grandma"


def test_only_the_owner_may_rename_a_voice(client, user_id, voice):
    other = client.post("/api/users/local|someone-else").json["user"]
    response = client.patch(f"/api/voice-models/{FISH_MODEL_ID}", json={"user_id": other, "name": "Mine now"})
    assert response.status_code == 404
    assert client.patch("/api/voice-models/unknown", json={"user_id": user_id, "name": "x"}).status_code == 404
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").json["voice_model"]["name"] == "Grandma"


# -- the recording a voice was cloned from ----------------------------------------------------------


def test_the_owner_can_play_the_original_recording_through_a_signed_link(client, user_id, voice, wav_bytes):
    answer = client.get(f"/api/voice-models/{FISH_MODEL_ID}/recording?user_id={user_id}")
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["media_type"] == "audio/wav" and body["expires_in"] > 0
    assert body["recording_url"].startswith(f"/api/recording/{FISH_MODEL_ID}?sig=")
    played, data = fetch(client, body["recording_url"])  # no user named: the link is the proof
    assert played.status_code == 200 and played.mimetype == "audio/wav" and data == wav_bytes
    assert "private" in played.headers["Cache-Control"]
    ranged, part = fetch(client, body["recording_url"], headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and part == wav_bytes[:10]


def test_recording_links_are_checked(client, user_id, voice, make_app):
    url = client.get(f"/api/voice-models/{FISH_MODEL_ID}/recording?user_id={user_id}").json["recording_url"]
    path, _, sig = url.partition("?sig=")
    assert client.get(path).status_code == 403  # no signature
    assert client.get(f"{path}?sig={sig[:-2]}xx").status_code == 403  # tampered
    assert client.get(f"/api/recording/{'f' * 32}?sig={sig}").status_code == 403  # another voice's
    # An audio link's signature for the same text does not open a recording.
    audio_sig = client.application.extensions["echo"].links.url(FISH_MODEL_ID).partition("?sig=")[2]
    assert client.get(f"/api/recording/{FISH_MODEL_ID}?sig={audio_sig}").status_code == 403
    assert fetch(client, f"{path}?sig={sig}")[0].status_code == 200


def test_the_recording_is_only_for_the_owner_and_goes_with_the_voice(client, fish, user_id, voice):
    other = client.post("/api/users/local|someone-else").json["user"]
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}/recording?user_id={other}").status_code == 404
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}/recording").status_code == 400  # nobody named
    url = client.get(f"/api/voice-models/{FISH_MODEL_ID}/recording?user_id={user_id}").json["recording_url"]
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=200)
    assert client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 200
    gone = client.get(url)  # a link given before the deletion opens nothing after it
    assert gone.status_code == 404 and gone.json["success"] is False


def test_a_voice_whose_recording_was_not_kept_says_so(client, app, user_id, voice):
    services = app.extensions["echo"]
    record = services.db.get_voice_model(FISH_MODEL_ID)
    services.store.delete_reference(record["reference_audio"])
    answer = client.get(f"/api/voice-models/{FISH_MODEL_ID}/recording?user_id={user_id}")
    assert answer.status_code == 404 and answer.json["reason"] == "no_recording"
