"""Cloning a voice for a user: the consent attestation, the record (or, during a database outage, a journal
entry saved once the database is back), and undoing the clone when its record cannot be kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from bson import ObjectId

from backend.database import utcnow
from backend.errors import DatabaseUnavailable
from backend.services.voices import ClonedVoice

if TYPE_CHECKING:
    from backend.services import Services

log = logging.getLogger(__name__)

CONSENT_STATEMENT = (
    "I confirm that the person whose voice this is (or whoever may decide for them) agreed to it being "
    "cloned and used in Echo."
)


@dataclass(frozen=True)
class CloneRequest:
    upload: BinaryIO
    name: str
    transcript: str | None
    user_id: ObjectId
    attested_by: str | None  # who attested the speaker's consent (the sign-in id, or the local user id)
    consent_upload: BinaryIO | None = None
    echo_id: ObjectId | None = None
    database_ok: bool = True  # False when the user and echo could not be checked (database unavailable)


@dataclass
class CloneResult:
    cloned: ClonedVoice
    record: dict | None  # the saved record; None when it waits in the outage journal
    warnings: list[str] = field(default_factory=list)


def clone_voice(svc: Services, request: CloneRequest) -> CloneResult:
    db_ok = request.database_ok
    if svc.store.kind == "gridfs" and (not db_ok or svc.db.ping()["status"] != "ok"):
        # The recording would be kept in the database: do not make a voice that cannot be kept.
        raise DatabaseUnavailable("Recordings are kept in the database, which is unavailable; try again shortly.")

    consent_key = svc.voices.keep_consent_recording(request.consent_upload) if request.consent_upload else None
    try:
        cloned = svc.voices.clone(request.upload, title=request.name, transcript=request.transcript)
    except Exception:
        svc.store.delete_reference(consent_key)
        raise
    voice = cloned.voice
    record = {
        "model_id": voice.model_id,
        "reference_id": voice.model_id,
        "user_id": request.user_id,
        "name": request.name,
        "provider": cloned.provider,
        "echo_id": request.echo_id,
        "file_type": cloned.info.container,
        "duration_seconds": round(cloned.info.duration, 2),
        "transcript": request.transcript,
        "state": voice.state,
        "details": voice.details,
        "reference_audio": cloned.reference_key,
        "visibility": "private",
        "consent": {
            "attested": True,
            "statement": CONSENT_STATEMENT,
            "attested_by": request.attested_by,
            "attested_at": utcnow(),
            "recording": consent_key,
        },
    }
    result = CloneResult(cloned=cloned, record=None)
    if db_ok:
        try:
            result.record = svc.db.save_voice_model(record)
            if request.echo_id is not None:
                svc.db.update_echo(request.echo_id, {"voice_model_id": voice.model_id})
        except DatabaseUnavailable:
            db_ok = False
        except Exception:
            svc.voices.forget(cloned)
            svc.store.delete_reference(consent_key)
            raise
    warnings = result.warnings
    if not db_ok and result.record is None:
        # The voice is live without a record: journal the record (DATA_DIR), saved once the database is back.
        try:
            svc.upkeep.journal().add(record)
            warnings.append(
                "The database is unavailable, so this voice model is not in your list yet; it is kept and "
                f"appears in your list once the database is back. Until then, use it by its id ({voice.model_id})."
            )
        except Exception:  # the voice exists whatever happens to its record
            log.exception("could not journal the record of voice %s", voice.model_id)
            warnings.append(
                "The database is unavailable, so this voice model was not saved to your list; "
                f"keep its id ({voice.model_id}) to use it."
            )
    elif not db_ok:
        warnings.append("The database became unavailable before this voice could be linked to its echo.")
    if voice.state not in ("trained", "created"):
        warnings.append(f"The provider reports the voice as '{voice.state}'; it may not be usable yet.")
    if not request.transcript and cloned.provider == "fish":
        warnings.append("No transcript was given; Fish.Audio works out what was said.")
    if cloned.info.duration < 10:
        warnings.append("Recordings of 10 to 30 seconds clone better than short ones.")
    return result
