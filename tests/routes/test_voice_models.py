"""Voice models: /api/voice-models (list, page, read, delete everywhere) and who may see them."""

from __future__ import annotations

from tests.helpers import FISH_MODEL_ID, FISH_URL, files_under, fish_model, upload


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
