"""Voice cloning and speech: upload a reference, synthesize, fetch the audio."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, request, send_file, stream_with_context
from werkzeug.wsgi import wrap_file

from backend.audio import OUTPUT_FORMATS
from backend.database import utcnow
from backend.errors import BadRequest, DatabaseUnavailable, NotFound, NoVoice, VoiceDeleted
from backend.routes.common import (
    caller_id,
    id_field,
    json_body,
    owned,
    public_voice_model,
    require_user,
    services,
    text_field,
    voice_field,
)

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__)

CONSENT_YES = ("true", "yes", "1", "on")
CONSENT_STATEMENT = (
    "I confirm that the person whose voice this is (or whoever may decide for them) agreed to it being "
    "cloned and used in Echo."
)


@bp.post("/api/upload-reference")
def upload_reference():
    svc = services()
    upload = request.files.get("audio")
    if upload is None:
        raise BadRequest("Send the recording as the multipart form field 'audio'.")
    form = request.form
    name = text_field(form, "name", max_length=100) or "My voice"
    transcript = text_field(form, "transcript", max_length=2000)
    user_id = caller_id(required=True)  # a voice is always someone's
    echo_id = id_field(form, "echo_id")
    if str(form.get("consent", "")).strip().lower() not in CONSENT_YES:
        raise BadRequest(
            "Cloning a voice needs the speaker's consent: send consent=true to confirm that the speaker "
            "(or whoever may decide for them) agreed to this voice being cloned.",
            reason="consent_required",
        )
    consent_upload = request.files.get("consent_audio")
    warnings: list[str] = []

    db_ok = True
    try:
        require_user(user_id)
        if echo_id is not None:
            owned(svc.db.get_echo(echo_id), user_id, "echo")
    except DatabaseUnavailable:
        db_ok = False
    if svc.store.kind == "gridfs" and (not db_ok or svc.db.ping()["status"] != "ok"):
        # The recording would be kept in the database: do not make a voice that cannot be kept.
        raise DatabaseUnavailable("Recordings are kept in the database, which is unavailable; try again shortly.")

    consent_key = svc.voices.keep_consent_recording(consent_upload.stream) if consent_upload else None
    try:
        cloned = svc.voices.clone(upload.stream, title=name, transcript=transcript)
    except Exception:
        svc.store.delete_reference(consent_key)
        raise
    voice = cloned.voice
    caller = g.get("caller")
    record = {
        "model_id": voice.model_id,
        "reference_id": voice.model_id,
        "user_id": user_id,
        "name": name,
        "provider": cloned.provider,
        "echo_id": echo_id,
        "file_type": cloned.info.container,
        "duration_seconds": round(cloned.info.duration, 2),
        "transcript": transcript,
        "state": voice.state,
        "details": voice.details,
        "reference_audio": cloned.reference_key,
        "visibility": "private",
        "consent": {
            "attested": True,
            "statement": CONSENT_STATEMENT,
            "attested_by": caller.auth0_id if caller else (str(user_id) if user_id else None),
            "attested_at": utcnow(),
            "recording": consent_key,
        },
    }
    saved = None
    if db_ok:
        try:
            saved = svc.db.save_voice_model(record)
            if echo_id is not None:
                svc.db.update_echo(echo_id, {"voice_model_id": voice.model_id})
        except DatabaseUnavailable:
            db_ok = False
        except Exception:
            svc.voices.forget(cloned)
            svc.store.delete_reference(consent_key)
            raise
    if not db_ok and saved is None:
        # The voice is live without a record: journal the record (DATA_DIR), saved once the database is back.
        try:
            svc.unsaved_voice_models().add(record)
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
    if not transcript and cloned.provider == "fish":
        warnings.append("No transcript was given; Fish.Audio works out what was said.")
    if cloned.info.duration < 10:
        warnings.append("Recordings of 10 to 30 seconds clone better than short ones.")
    return {
        "success": True,
        "model_id": voice.model_id,
        "reference_id": voice.model_id,
        "name": name,
        "provider": cloned.provider,
        "duration_seconds": round(cloned.info.duration, 2),
        "database_record": public_voice_model(saved),
        "warnings": warnings,
    }, 201


@bp.post("/api/synthesize")
def synthesize():
    svc = services()
    data = json_body()
    text = text_field(data, "text", required=True, max_length=svc.settings.max_text_chars)
    reference_id = voice_field(data, "reference_id")
    echo_id = id_field(data, "echo_id")
    fmt = (text_field(data, "format", max_length=10) or "mp3").lower()
    if fmt not in OUTPUT_FORMATS:
        raise BadRequest(f"'format' must be one of {', '.join(OUTPUT_FORMATS)}.")
    if reference_id and echo_id:
        raise BadRequest("Send either 'echo_id' (speak as that echo) or 'reference_id' (a voice), not both.")
    # Speaking as an echo, or in a voice someone keeps here, touches their records: the caller must be known
    # (owned() refuses a stored voice to a request that names no user).
    caller = caller_id(required=bool(echo_id))
    provider_name = None
    record = None
    if echo_id:
        reference_id = _echo_voice(echo_id, caller)
    if reference_id:
        try:
            record = svc.db.get_voice_model(reference_id)
        except DatabaseUnavailable:
            record = None  # the provider still knows its own voices
        if record is not None:
            owned(record, caller, "voice model")
            provider_name = record.get("provider")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be true or false.")
    accept = request.headers.get("Accept", "")
    stream = stream or ("audio/" in accept and "application/json" not in accept)
    progressive = data.get("progressive", False)
    if not isinstance(progressive, bool):
        raise BadRequest("'progressive' must be true or false.")
    svc.purge_old_audio()
    # The cache serves a voice only while its record says it exists (a voice deleted elsewhere, or not
    # checkable now, goes to the provider, which knows whether it still exists).
    job = svc.voices.start_synthesis(
        text=text,
        reference_id=reference_id,
        fmt=fmt,
        provider_name=provider_name,
        user_id=caller,
        use_cache=reference_id is None or record is not None,
    )
    url = svc.links.url(job.name)
    if stream:
        return _stream_response(job, url, caller)
    if progressive and not job.cached:
        db = svc.db
        svc.voices.finish_in_background(job, on_done=lambda: _record_audio(job.name, caller, reference_id, db))
        return _answer(job, url, text, complete=False)
    for _ in job:
        pass
    if not job.cached:  # cache entries go with their voice or account, not with a record
        _record_audio(job.name, caller, reference_id)
    return _answer(job, url, text, complete=True)


def _echo_voice(echo_id, caller) -> str:
    """The voice an echo speaks in; an echo whose voice was deleted (or never given) is refused, never
    spoken in the stock voice."""
    echo = owned(services().db.get_echo(echo_id), caller, "echo")
    if echo.get("voice_model_id"):
        return echo["voice_model_id"]
    if echo.get("voice_deleted_at"):
        raise VoiceDeleted(echo_id=echo["_id"])
    raise NoVoice(echo_id=echo["_id"])


def _answer(job, url: str, text: str, *, complete: bool) -> dict:
    body = {
        "success": True,
        "audio_url": url,
        "audio_path": url,
        "format": job.fmt,
        "media_type": job.media_type,
        "provider": job.provider,
        "reference_id": job.reference_id,
        "text_length": len(text),
        "cached": job.cached,
        "complete": complete,
        "expires_in": services().links.ttl,
    }
    if complete:
        body["size_bytes"] = job.size
    return body


def _record_audio(name: str, caller, reference_id: str | None, db=None) -> None:
    try:
        (db or services().db).record_audio(name, user_id=caller, model_id=reference_id)
    except DatabaseUnavailable:
        log.info("audio %s not recorded (database unavailable); retention removes it", name)


def _stream_response(job, url: str, caller) -> Response:
    """The audio itself, sent while it is produced (chunked); it is stored too, at X-Audio-Url once complete."""

    def generate():
        yield from job
        if not job.cached:
            _record_audio(job.name, caller, job.reference_id)

    headers = {
        "X-Audio-Url": url,
        "X-Audio-Format": job.fmt,
        "X-Voice-Provider": job.provider,
        "X-Cache": "hit" if job.cached else "miss",
        "Cache-Control": "no-store",
    }
    return Response(stream_with_context(generate()), mimetype=job.media_type, headers=headers)


@bp.get("/api/audio/<name>")
def get_audio(name: str):
    svc = services()
    svc.links.check(name, request.args.get("sig"))
    stored = svc.voices.stored_audio(name)
    if stored is None:
        growing = svc.voices.follow_audio(name)
        if growing is not None:  # still being spoken: follow it as it grows
            mimetype = OUTPUT_FORMATS[name.rsplit(".", 1)[1]]
            return Response(growing, mimetype=mimetype, headers={"Cache-Control": "no-store"})
        stored = svc.voices.stored_audio(name)  # finished between the two looks
        if stored is None:
            raise NotFound("No audio with this name.")
    mimetype = OUTPUT_FORMATS[name.rsplit(".", 1)[1]]  # names are <token>.<format>
    if stored.path is not None:
        response = send_file(stored.path, mimetype=mimetype, conditional=True, max_age=3600, etag=True)
    else:
        response = _send_stored(stored, mimetype)
    # Someone's voice: browsers may keep it, shared caches may not.
    response.cache_control.public = None
    response.cache_control.private = True
    response.headers["Accept-Ranges"] = "bytes"
    return response


def _send_stored(stored, mimetype: str) -> Response:
    """A stored file that is not on this machine (GridFS), with Range and conditional requests."""
    try:
        reader = stored.open()
    except FileNotFoundError:
        raise NotFound("No audio with this name.") from None
    response = Response(wrap_file(request.environ, reader), mimetype=mimetype, direct_passthrough=True)
    response.content_length = stored.size
    response.last_modified = stored.modified
    response.set_etag(f"{stored.name}-{stored.size}")
    response.cache_control.max_age = 3600
    return response.make_conditional(request.environ, accept_ranges=True, complete_length=stored.size)
