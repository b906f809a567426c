"""The OpenAI-compatible speech API, for home assistants, chat front-ends and agents that already speak it.

``POST /v1/audio/speech`` answers as OpenAI's does (the audio itself, streamed as it is produced, or Server-Sent
Events with base64 pieces), so the ``openai`` SDK and clients such as Open WebUI, SillyTavern or Home Assistant's
OpenAI TTS integrations work unchanged. Underneath it is ``/api/synthesize``: the same voices, ownership, cache,
limits, providers and history. Every /v1 request carries a personal API key (or, with sign-in, an access token):
``g.caller`` is set by ``backend.auth`` and nothing here falls back to a ``user_id`` named in the request.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

from bson import ObjectId
from flask import Blueprint, Response, g, request, stream_with_context

from backend import audio, inputs
from backend.errors import BadRequest, EchoError, NotFound, NoVoice, Unauthorized, VoiceDeleted, openai_error
from backend.extensions import rate_limited
from backend.formats import PCM_SAMPLE_RATE
from backend.providers import VOICE_ID_SHAPES
from backend.routes.common import services

bp = Blueprint("openai_speech", __name__)

# What ``model`` accepts: Echo's own name, and OpenAI's speech model names so that clients configured for
# OpenAI work as they are. They all mean the same: the voice's own engine.
MODEL = "echo-tts"
MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
MODELS = (MODEL, *MODEL_ALIASES)
MAX_INPUT = 4096  # OpenAI's limit
MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
STORED_FORMATS = ("mp3", "opus", "wav", "pcm")  # what the providers speak and the cache keeps


def _caller() -> ObjectId:
    caller = g.get("caller")
    if caller is None:  # backend.auth lets no /v1 request through without a key or token; never guess
        raise Unauthorized("Send a personal API key: Authorization: Bearer <key>.")
    return caller.user_id


def _choice(data: dict, field: str, allowed: tuple[str, ...], default: str) -> str:
    value = data.get(field, default)
    if value is None:
        return default
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise BadRequest(f"'{field}' must be one of {', '.join(allowed)}.", param=field)
    return value.strip().lower()


def _speed(data: dict) -> float:
    value = data.get("speed", 1.0)
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.25 <= value <= 4.0:
        raise BadRequest("'speed' must be a number from 0.25 to 4.0.", param="speed")
    return float(value)


def _text(data: dict) -> str:
    value = data.get("input")
    limit = min(MAX_INPUT, services().settings.max_text_chars)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("'input' must be the text to speak.", param="input")
    if len(value) > limit:
        raise BadRequest(f"'input' is longer than {limit} characters.", param="input", reason="input_too_long")
    return value.strip()


def _voice(data: dict, caller: ObjectId) -> tuple[dict, ObjectId | None]:
    """The caller's voice model named by ``voice`` (a voice id, or an echo id meaning that echo's voice), and
    the echo's id when it was one. Anything that is not the caller's is a 404, whoever it belongs to."""
    value = data.get("voice")
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("'voice' must be a voice id or an echo id (or {\"id\": ...}).", param="voice")
    value = value.strip()
    db = services().db
    if inputs.OBJECT_ID.fullmatch(value):
        echo = db.get_echo(ObjectId(value))
        if echo is not None and echo.get("user_id") == caller:
            if echo.get("voice_model_id"):
                record = db.get_voice_model(echo["voice_model_id"])
                if record is not None:
                    return record, echo["_id"]
            if echo.get("voice_deleted_at"):  # never spoken in another voice
                raise VoiceDeleted(echo_id=echo["_id"], param="voice")
            raise NoVoice(echo_id=echo["_id"], param="voice")
    if any(shape.fullmatch(value) for shape in VOICE_ID_SHAPES.values()):
        record = db.get_voice_model(value)
        if record is not None and record.get("user_id") == caller:
            return record, None
    raise NotFound(
        f"No voice '{value}' among yours. GET /v1/audio/voices lists the voices and echos this key can use.",
        param="voice",
        reason="voice_not_found",
    )


@bp.post("/v1/audio/speech")
@rate_limited("synthesize_rate_limit", "ask for more speech")
def speech():
    svc = services()
    caller = _caller()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object with model, input and voice.")
    model = data.get("model")
    if not isinstance(model, str) or model.strip() not in MODELS:
        raise BadRequest(f"'model' must be one of {', '.join(MODELS)} (GET /v1/models).", param="model")
    text = _text(data)
    record, echo_id = _voice(data, caller)
    fmt = _choice(data, "response_format", tuple(MEDIA_TYPES), "mp3")
    speed = _speed(data)
    stream_format = _choice(data, "stream_format", ("audio", "sse"), "audio")
    instructions = data.get("instructions")
    if instructions is not None and (not isinstance(instructions, str) or len(instructions) > MAX_INPUT):
        raise BadRequest(f"'instructions' must be text of at most {MAX_INPUT} characters.", param="instructions")
    # ``instructions`` (tone, accent) is accepted and not followed: Echo's engines speak in the voice as cloned.

    svc.upkeep.run_if_due()
    direct = fmt in STORED_FORMATS and speed == 1.0
    job = svc.speech.start(
        text=text,
        reference_id=record["model_id"],
        fmt=fmt if direct else "pcm",  # other formats and speeds are made from Echo's raw PCM, as it comes
        provider_name=record.get("provider"),
        user_id=caller,
        history={"echo_id": echo_id},
        voice_recorded=True,
    )
    chunks = _chunks(job)
    if not direct:
        chunks = audio.transcode_pcm(chunks, fmt, speed)
    headers = {"Cache-Control": "no-store", "X-Voice-Provider": job.provider}
    if stream_format == "sse":
        return Response(stream_with_context(_events(chunks)), mimetype="text/event-stream", headers=headers)
    if fmt == "pcm":
        headers["X-Sample-Rate"] = str(PCM_SAMPLE_RATE)
    return Response(stream_with_context(chunks), mimetype=MEDIA_TYPES[fmt], headers=headers)


def _chunks(job) -> Iterator[bytes]:
    """The job's audio; closing this (a client gone) closes the job, which keeps nothing unfinished."""
    pieces = iter(job)
    try:
        yield from pieces
    finally:
        pieces.close()


def _events(chunks: Iterator[bytes]) -> Iterator[str]:
    """``speech.audio.delta`` events with base64 audio, then ``speech.audio.done``; a failure part-way is an
    ``error`` event (the status was sent long before)."""
    try:
        for chunk in chunks:
            if chunk:
                piece = base64.b64encode(chunk).decode("ascii")
                yield _event({"type": "speech.audio.delta", "audio": piece})
        yield _event({"type": "speech.audio.done"})
    except EchoError as exc:
        yield _event({"type": "error", **openai_error(exc.status, exc.code, exc.message)})


def _event(payload: dict) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


@bp.get("/v1/models")
def models():
    _caller()
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "echo"} for name in MODELS]
    return {"object": "list", "data": data}


@bp.get("/v1/audio/models")
def audio_models():
    """The same list in the shape some front-ends (Open WebUI) ask for."""
    _caller()
    return {"models": [{"id": name} for name in MODELS]}


@bp.get("/v1/audio/voices")
def voices():
    """What ``voice`` accepts for this key: each voice (by id) and each echo that has one (by its id)."""
    caller = _caller()
    db = services().db
    models_, _ = db.list_voice_models(caller, limit=None, offset=0)
    echos, _ = db.list_echos(caller, limit=None, offset=0)
    names = {m["model_id"]: m.get("name") for m in models_}
    items = [
        {"id": m["model_id"], "object": "voice", "name": m.get("name"), "engine": m.get("provider"), "kind": "voice"}
        for m in models_
    ]
    for echo in echos:
        if echo.get("voice_model_id") in names:
            items.append(
                {
                    "id": str(echo["_id"]),
                    "object": "voice",
                    "name": f"{echo.get('name')} (echo)",
                    "engine": next(m.get("provider") for m in models_ if m["model_id"] == echo["voice_model_id"]),
                    "kind": "echo",
                    "voice_id": echo["voice_model_id"],
                }
            )
    return {"object": "list", "data": items, "voices": items}
