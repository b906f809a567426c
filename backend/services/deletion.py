"""Deleting a voice everywhere, and an account with everything of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bson import ObjectId

if TYPE_CHECKING:
    from backend.services import Services


def voice_recordings(record: dict) -> list[str]:
    """Storage keys of a voice model's recordings: the reference and the optional consent recording."""
    consent = record.get("consent") if isinstance(record.get("consent"), dict) else {}
    return [key for key in (record.get("reference_audio"), consent.get("recording")) if key]


def delete_voice(svc: Services, record: dict) -> None:
    """Delete a voice everywhere: at its provider, its recordings, cache and generated audio, then the record.

    In this order, so that a failure part-way (the provider down) leaves the record for a retry. Echos that
    spoke with it keep the fact (``voice_status: deleted``) and are never spoken in another voice.
    """
    model_id = record["model_id"]
    outputs = svc.db.audio_names(model_id=model_id)
    svc.voices.delete(
        model_id, provider_name=record.get("provider"), recordings=voice_recordings(record), outputs=outputs
    )
    svc.db.forget_audio(outputs)
    svc.db.delete_voice_model(model_id)


def delete_account(svc: Services, user_id: ObjectId) -> dict[str, int]:
    """Delete an account and everything of it: voices (at the provider too), recordings, audio, the cache of
    its default voice, echos, messages and memories. Returns how many of each went."""
    voices = 0
    while True:
        models, _ = svc.db.list_voice_models(user_id, limit=100, offset=0)
        if not models:
            break
        voices += len(models)
        for record in models:
            delete_voice(svc, record)
    for name in svc.db.audio_names(user_id=user_id):
        svc.store.delete_output(name)
    svc.speech.forget_user_cache(user_id)
    counts = svc.db.delete_user_data(user_id)
    counts["voice_models"] += voices
    return counts
