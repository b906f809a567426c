"""The history of what was spoken: /api/speech-history (newest first, replay, forget), filled by every way of
asking /api/synthesize once the audio is complete, private to its owner, and gone with its voice, echo or account."""

from __future__ import annotations

import pytest

from tests.fake_fish import mp3_like
from tests.helpers import FISH_MODEL_ID, FISH_URL, background_syntheses, fetch, files_under, join_all

SPOKEN = mp3_like(4000)
OPUS = b"OggS" + bytes(4000)


def speak(client, fish, user_id, text, **fields):
    body = OPUS if fields.get("format") == "opus" else SPOKEN
    fish.post(f"{FISH_URL}/v1/tts", body=body, content_type="audio/mpeg")
    response = client.post("/api/synthesize", json={"text": text, "user_id": user_id, **fields})
    assert response.status_code == 200, response.json
    return response


def history(client, user_id, **query):
    response = client.get("/api/speech-history", query_string={"user_id": user_id, **query})
    assert response.status_code == 200, response.json
    return response.json


def test_what_was_spoken_is_listed_newest_first_and_can_be_played_again(client, fish, user_id, voice):
    speak(client, fish, user_id, "Good morning, sunshine.", reference_id=FISH_MODEL_ID)
    speak(client, fish, user_id, "Happy birthday, love.", reference_id=FISH_MODEL_ID, format="opus")
    speak(client, fish, user_id, "In the stock voice.")
    listed = history(client, user_id)
    assert listed["total"] == 3 and listed["count"] == 3
    texts = [item["text"] for item in listed["items"]]
    assert texts == ["In the stock voice.", "Happy birthday, love.", "Good morning, sunshine."]
    newest, opus, oldest = listed["items"]
    assert newest["voice_model_id"] is None and newest["voice_name"] is None
    assert oldest["voice_model_id"] == FISH_MODEL_ID and oldest["voice_name"] == "Grandma"
    assert (oldest["format"], opus["format"]) == ("mp3", "opus")
    assert oldest["size_bytes"] == len(SPOKEN) and oldest["echo_id"] is None
    played, data = fetch(client, oldest["audio_url"])  # a fresh signed link: no user needed to play it
    assert played.status_code == 200 and data == SPOKEN


def test_a_renamed_voice_shows_its_new_name_in_the_history(client, fish, user_id, voice):
    speak(client, fish, user_id, "Hello.", reference_id=FISH_MODEL_ID)
    client.patch(f"/api/voice-models/{FISH_MODEL_ID}", json={"user_id": user_id, "name": "Nana Rose"})
    assert history(client, user_id)["items"][0]["voice_name"] == "Nana Rose"


def test_a_cache_hit_is_history_too_and_forgetting_it_keeps_the_cache(client, fish, user_id, data_dir):
    first = speak(client, fish, user_id, "Same words.").json
    second = client.post("/api/synthesize", json={"text": "Same words.", "user_id": user_id}).json
    assert second["cached"] is True and len(fish.calls) == 1
    items = history(client, user_id)["items"]
    assert len(items) == 2
    cached_entry = next(i for i in items if i["audio_url"].split("?")[0] == second["audio_url"].split("?")[0])
    assert client.delete(f"/api/speech-history/{cached_entry['_id']}", query_string={"user_id": user_id}).json == {
        "success": True,
        "deleted": True,
    }
    again = client.post("/api/synthesize", json={"text": "Same words.", "user_id": user_id}).json
    assert again["cached"] is True  # another request's cache entry was not taken away
    assert fetch(client, first["audio_url"])[0].status_code == 200


def test_streamed_and_progressive_requests_join_the_history_once_complete(client, fish, user_id, monkeypatch):
    fish.post(f"{FISH_URL}/v1/tts", body=SPOKEN, content_type="audio/mpeg")
    streamed = client.post("/api/synthesize", json={"text": "Streamed.", "user_id": user_id, "stream": True})
    assert streamed.status_code == 200
    assert history(client, user_id)["total"] == 0  # nothing until the audio has all passed
    assert streamed.get_data() == SPOKEN
    assert [i["text"] for i in history(client, user_id)["items"]] == ["Streamed."]

    writers = background_syntheses(client.application, monkeypatch)
    fish.post(f"{FISH_URL}/v1/tts", body=SPOKEN, content_type="audio/mpeg")
    progressive = client.post("/api/synthesize", json={"text": "Later.", "user_id": user_id, "progressive": True})
    assert progressive.json["complete"] is False
    join_all(writers)
    assert [i["text"] for i in history(client, user_id)["items"]] == ["Later.", "Streamed."]


@pytest.mark.parametrize("status", [400, 500, 503])
def test_a_request_that_fails_leaves_no_history(client, fish, user_id, status):
    fish.post(f"{FISH_URL}/v1/tts", json={"status": status, "message": "no"}, status=status)
    assert client.post("/api/synthesize", json={"text": "Lost.", "user_id": user_id}).status_code >= 400
    assert history(client, user_id)["total"] == 0


def test_a_stream_the_client_leaves_early_leaves_no_history(client, fish, user_id):
    fish.post(f"{FISH_URL}/v1/tts", body=SPOKEN, content_type="audio/mpeg")
    request = {"text": "Gone.", "user_id": user_id, "stream": True}
    response = client.post("/api/synthesize", json=request, buffered=False)
    next(iter(response.response))
    response.close()
    assert history(client, user_id)["total"] == 0


def test_speech_for_nobody_in_particular_is_kept_in_nobodys_history(client, fish, user_id):
    fish.post(f"{FISH_URL}/v1/tts", body=SPOKEN, content_type="audio/mpeg")
    assert client.post("/api/synthesize", json={"text": "Anonymous."}).status_code == 200
    assert history(client, user_id)["total"] == 0


def test_history_is_private(client, fish, user_id):
    speak(client, fish, user_id, "Mine alone.")
    other = client.post("/api/users/local|someone-else").json["user"]
    assert history(client, other)["total"] == 0
    entry = history(client, user_id)["items"][0]
    refused = client.delete(f"/api/speech-history/{entry['_id']}", query_string={"user_id": other})
    assert refused.status_code == 404
    assert client.delete("/api/speech-history", query_string={"user_id": other}).json["deleted"] == 0
    assert history(client, user_id)["total"] == 1
    assert client.get("/api/speech-history").status_code == 400  # nobody named


@pytest.mark.parametrize(
    ("query", "status"),
    [({"limit": 0}, 400), ({"limit": "x"}, 400), ({"offset": -1}, 400), ({"limit": 1000}, 400)],
)
def test_history_pages_are_checked(client, user_id, query, status):
    assert client.get("/api/speech-history", query_string={"user_id": user_id, **query}).status_code == status


def test_history_pages(client, fish, user_id):
    for i in range(5):
        speak(client, fish, user_id, f"Line {i}.")
    page = history(client, user_id, limit=2, offset=1)
    assert page["total"] == 5 and [i["text"] for i in page["items"]] == ["Line 3.", "Line 2."]


def test_forgetting_an_entry_deletes_its_audio_and_clearing_forgets_all(client, fish, user_id, data_dir):
    for text in ("One.", "Two.", "Three."):
        speak(client, fish, user_id, text)
    first, *rest = history(client, user_id)["items"]
    outputs = files_under(data_dir / "audio")
    assert len(outputs) == 3
    assert client.delete(f"/api/speech-history/{first['_id']}", query_string={"user_id": user_id}).status_code == 200
    assert fetch(client, first["audio_url"])[0].status_code == 404  # its audio went with it
    assert len(files_under(data_dir / "audio")) == 2
    again = client.delete(f"/api/speech-history/{first['_id']}", query_string={"user_id": user_id})
    assert again.status_code == 404
    cleared = client.delete("/api/speech-history", query_string={"user_id": user_id})
    assert cleared.json == {"success": True, "deleted": 2}
    assert history(client, user_id)["total"] == 0 and files_under(data_dir / "audio") == []
    bad = client.delete("/api/speech-history/not-an-id", query_string={"user_id": user_id})
    assert bad.status_code == 400 and bad.json["success"] is False


def test_audio_no_longer_kept_has_no_link(client, app, fish, user_id):
    speak(client, fish, user_id, "Long ago.")
    entry = history(client, user_id)["items"][0]
    name = entry["audio_url"].split("?")[0].rsplit("/", 1)[-1]
    services = app.extensions["echo"]
    services.store.delete_output(name)  # as retention does after AUDIO_RETENTION_HOURS
    kept = history(client, user_id)["items"][0]
    assert kept["text"] == "Long ago." and kept["audio_url"] is None


def test_history_goes_with_its_voice_its_echo_and_the_account(client, fish, user_id, voice, echo):
    speak(client, fish, user_id, "In Grandma's voice.", reference_id=FISH_MODEL_ID)
    speak(client, fish, user_id, "As the echo.", echo_id=echo["_id"])
    speak(client, fish, user_id, "Stock voice.")
    items = history(client, user_id)["items"]
    assert [i["echo_id"] for i in items] == [None, echo["_id"], None]
    assert client.delete(f"/api/echo/{echo['_id']}", query_string={"user_id": user_id}).status_code == 200
    assert [i["text"] for i in history(client, user_id)["items"]] == ["Stock voice.", "In Grandma's voice."]
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=200)
    assert client.delete(f"/api/voice-models/{FISH_MODEL_ID}", query_string={"user_id": user_id}).status_code == 200
    assert [i["text"] for i in history(client, user_id)["items"]] == ["Stock voice."]
    assert client.delete("/api/users/local%7Ctester", query_string={"user_id": user_id}).status_code == 200
    services = client.application.extensions["echo"]
    with services.db.operation() as db:
        assert db.speech_history.count_documents({}) == 0


def test_real_audio_has_its_length_and_raw_pcm_its_rate(local_client):
    client, _ = local_client
    user = client.post("/api/users/local|lengths").json["user"]
    for fmt in ("mp3", "wav", "opus", "pcm"):
        answer = client.post("/api/synthesize", json={"text": "One, two, three.", "format": fmt, "user_id": user})
        assert answer.status_code == 200, answer.json
        assert 0.8 < answer.json["duration_seconds"] < 4.0
        assert answer.json.get("sample_rate") == (24000 if fmt == "pcm" else None)
        if fmt == "pcm":
            played, data = fetch(client, answer.json["audio_url"])
            assert played.headers["X-Sample-Rate"] == "24000"
            assert answer.json["duration_seconds"] == pytest.approx(len(data) / 2 / 24000, abs=0.01)
    items = history(client, user)["items"]
    assert [i["format"] for i in items] == ["pcm", "opus", "wav", "mp3"]
    durations = [i["duration_seconds"] for i in items]
    assert max(durations) - min(durations) < 0.2  # the same words, the same length, whatever the format
    assert items[0]["sample_rate"] == 24000 and items[1]["sample_rate"] is None


def stored_history(client) -> list[dict]:
    with client.application.extensions["echo"].db.operation() as db:
        return list(db.speech_history.find())


# -- found by a hostile review: records left behind, races, the document --------------------------------


def test_a_voice_deleted_while_it_speaks_leaves_no_history_entry(client, fish, user_id, voice):
    """DELETE /api/voice-models says the voice went "with everything spoken in it", and the history goes with
    its voice; but speech in that voice that completes after the deletion (a stream still being read, a
    progressive request finishing in the background) is added to the history afterwards, with a working link
    to audio in the deleted voice."""
    fish.post(f"{FISH_URL}/v1/tts", body=mp3_like(400_000), content_type="audio/mpeg")
    request = {"text": "Still speaking.", "user_id": user_id, "reference_id": FISH_MODEL_ID, "stream": True}
    response = client.post("/api/synthesize", json=request, buffered=False)
    chunks = iter(response.response)
    next(chunks)  # the voice is speaking ...
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=200)
    assert client.delete(f"/api/voice-models/{FISH_MODEL_ID}", query_string={"user_id": user_id}).status_code == 200
    for _ in chunks:  # ... and finishes after its deletion
        pass
    response.close()
    left = history(client, user_id)["items"]
    assert left == [], f"an entry in a deleted voice, playable at {left[0]['audio_url']}"


def test_speech_for_a_user_that_does_not_exist_leaves_no_history(client, fish, user_id):
    """In local mode /api/synthesize takes any well-formed user_id without looking it up; the history entry
    is then written for a user who does not exist, and can never be listed or cleared (both routes answer
    404 for that user), so it stays for ever."""
    ghost = "0123456789abcdef01234567"
    fish.post(f"{FISH_URL}/v1/tts", body=SPOKEN, content_type="audio/mpeg")
    assert client.post("/api/synthesize", json={"text": "Nobody's.", "user_id": ghost}).status_code in (200, 404)
    assert client.get("/api/speech-history", query_string={"user_id": ghost}).status_code == 404
    assert client.delete("/api/speech-history", query_string={"user_id": ghost}).status_code == 404
    assert stored_history(client) == [], "an entry nobody can list or clear"


def test_deleting_an_echo_deletes_the_audio_of_its_history_entries(client, fish, user_id, voice, echo, data_dir):
    """README: the history "is kept until the entry, its voice, its echo or the account is deleted (an entry's
    own audio goes with it)". Deleting an echo drops its entries, but the audio made for them stays on disk and
    playable through the links the history gave."""
    fish.post(f"{FISH_URL}/v1/tts", body=SPOKEN, content_type="audio/mpeg")
    spoken = client.post("/api/synthesize", json={"text": "As Gran.", "user_id": user_id, "echo_id": echo["_id"]})
    assert spoken.status_code == 200, spoken.json
    entry = history(client, user_id)["items"][0]
    assert entry["echo_id"] == echo["_id"]
    assert client.delete(f"/api/echo/{echo['_id']}", query_string={"user_id": user_id}).status_code == 200
    assert history(client, user_id)["total"] == 0  # the entry went ...
    played, _ = fetch(client, entry["audio_url"])
    assert played.status_code == 404, "the entry's own audio is still served after its echo was deleted"
    assert files_under(data_dir / "audio") == []


def test_clearing_the_history_while_speech_completes_leaves_no_unlisted_audio(client, fish, user_id, data_dir):
    """DELETE /api/speech-history lists the entries, then deletes *every* entry of the user, then the audio of
    the listed ones: an entry added in between is deleted but its audio is not (it can no longer be found
    through the history, and stays on disk and playable until retention)."""
    svc = client.application.extensions["echo"]
    listed = svc.db.list_spoken

    def list_then_another_completes(*args, **kwargs):
        found = listed(*args, **kwargs)
        fish.post(f"{FISH_URL}/v1/tts", body=SPOKEN, content_type="audio/mpeg")
        from bson import ObjectId

        job = svc.speech.start(
            text="Just finished.", reference_id=None, fmt="mp3", user_id=ObjectId(user_id), history={"echo_id": None}
        )
        for _ in job:
            pass
        return found

    svc.db.list_spoken = list_then_another_completes
    try:
        assert client.delete("/api/speech-history", query_string={"user_id": user_id}).status_code == 200
    finally:
        del svc.db.list_spoken
    left_entries = history(client, user_id)["total"]
    left_audio = files_under(data_dir / "audio")
    assert left_entries == len(left_audio), f"{len(left_audio)} audio file(s) with {left_entries} entries"


# -- the OpenAPI document ---------------------------------------------------------------------------


def test_renaming_with_a_body_over_the_limit_is_a_documented_413(client, user_id, voice):
    """Every other JSON route documents the 413 the body guard gives; PATCH /api/voice-models/{id} does not."""
    big = {"user_id": user_id, "name": "x" * (70 * 1024)}
    response = client.patch(f"/api/voice-models/{FISH_MODEL_ID}", json=big)
    assert response.status_code == 413
    document = client.get("/openapi.json").json
    assert "413" in document["paths"]["/api/voice-models/{model_id}"]["patch"]["responses"]


def test_the_documented_default_page_of_the_history_is_the_one_served(client, user_id):
    """The history's limit parameter is the shared Limit (default 50), but the route serves 20 by default."""
    document = client.get("/openapi.json").json
    parameters = document["paths"]["/api/speech-history"]["get"]["parameters"]
    resolved = []
    for parameter in parameters:
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
        resolved.append(parameter)
    limit = next(p for p in resolved if p["name"] == "limit")
    assert limit["schema"]["default"] == history(client, user_id)["limit"]
