"""Voice cloning and speech: upload a reference, synthesize, fetch the audio."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, request, stream_with_context

from backend.errors import BadRequest, DatabaseUnavailable, NotFound, NoVoice, VoiceDeleted
from backend.extensions import public, rate_limited
from backend.formats import PCM_SAMPLE_RATE, format_of_name, output_format
from backend.routes.common import (
    caller_id,
    id_field,
    json_body,
    owned,
    public_voice_model,
    require_user,
    send_stored,
    services,
    text_field,
    voice_field,
)
from backend.services.cloning import CloneRequest, clone_voice

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__)

CONSENT_YES = ("true", "yes", "1", "on")
PCM_SHAPE = {"sample_rate": PCM_SAMPLE_RATE, "channels": 1, "sample_format": "s16le"}


@bp.post("/api/upload-reference")
@rate_limited("upload_rate_limit", "clone another voice")
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
    db_ok = True
    try:
        require_user(user_id)
        if echo_id is not None:
            owned(svc.db.get_echo(echo_id), user_id, "echo")
    except DatabaseUnavailable:
        db_ok = False
    caller = g.get("caller")
    consent_upload = request.files.get("consent_audio")
    result = clone_voice(
        svc,
        CloneRequest(
            upload=upload.stream,
            name=name,
            transcript=transcript,
            user_id=user_id,
            attested_by=caller.auth0_id if caller else str(user_id),
            consent_upload=consent_upload.stream if consent_upload else None,
            echo_id=echo_id,
            database_ok=db_ok,
        ),
    )
    cloned, voice = result.cloned, result.cloned.voice
    return {
        "success": True,
        "model_id": voice.model_id,
        "reference_id": voice.model_id,
        "name": name,
        "provider": cloned.provider,
        "duration_seconds": round(cloned.info.duration, 2),
        "database_record": public_voice_model(result.record),
        "warnings": result.warnings,
    }, 201


@bp.post("/api/synthesize")
@rate_limited("synthesize_rate_limit", "ask for more speech")
def synthesize():
    svc = services()
    data = json_body()
    text = text_field(data, "text", required=True, max_length=svc.settings.max_text_chars)
    reference_id = voice_field(data, "reference_id")
    echo_id = id_field(data, "echo_id")
    fmt = output_format(data.get("format")).name
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
    svc.upkeep.run_if_due()
    # The cache serves a voice only while its record says it exists (a voice deleted elsewhere, or not
    # checkable now, goes to the provider, which knows whether it still exists).
    job = svc.speech.start(
        text=text,
        reference_id=reference_id,
        fmt=fmt,
        provider_name=provider_name,
        user_id=caller,
        use_cache=reference_id is None or record is not None,
        history={"echo_id": echo_id},
        voice_recorded=record is not None,
    )
    url = svc.links.url(job.name)
    if stream:
        return _stream_response(job, url)
    if progressive and not job.cached:
        svc.speech.finish_in_background(job)
        return _answer(job, url, text, complete=False)
    for _ in job:
        pass
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
        body["duration_seconds"] = job.duration
    if job.fmt == "pcm":  # raw samples say nothing of themselves
        body.update(PCM_SHAPE)
    return body


def _stream_response(job, url: str) -> Response:
    """The audio itself, sent while it is produced (chunked); it is stored too, at X-Audio-Url once complete."""

    def generate():
        yield from job

    headers = {
        "X-Audio-Url": url,
        "X-Audio-Format": job.fmt,
        "X-Voice-Provider": job.provider,
        "X-Cache": "hit" if job.cached else "miss",
        "Cache-Control": "no-store",
    }
    if job.fmt == "pcm":
        headers["X-Sample-Rate"] = str(PCM_SAMPLE_RATE)
    return Response(stream_with_context(generate()), mimetype=job.media_type, headers=headers)


@bp.get("/api/audio/<name>")
@public
def get_audio(name: str):
    svc = services()
    svc.links.check(name, request.args.get("sig"))
    stored = svc.speech.stored_audio(name)
    if stored is None:
        growing = svc.speech.follow_audio(name)
        if growing is not None:  # still being spoken: follow it as it grows
            mimetype = format_of_name(name).media_type
            response = Response(growing, mimetype=mimetype, headers={"Cache-Control": "no-store"})
        else:
            stored = svc.speech.stored_audio(name)  # finished between the two looks
            if stored is None:
                raise NotFound("No audio with this name.")
    if stored is not None:  # only names of stored audio get here
        response = send_stored(stored, format_of_name(name).media_type)
    if name.endswith(".pcm"):  # raw samples say nothing of their rate: the header does
        response.headers["X-Sample-Rate"] = str(PCM_SAMPLE_RATE)
    return response
