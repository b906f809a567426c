"""An echo's reply to a message: as one JSON answer, or as Server-Sent Events while it is written and spoken."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request, stream_with_context

from backend import inputs
from backend.errors import BadRequest, EchoError
from backend.extensions import rate_limited
from backend.formats import output_format
from backend.routes.common import caller_id, json_body, owned, public_echo, services, text_field
from backend.routes.echos import MAX_MESSAGE
from backend.services.replies import ReplyRun

log = logging.getLogger(__name__)

bp = Blueprint("replies", __name__)


@bp.post("/api/conversation/<echo_id>/reply")
@rate_limited("reply_rate_limit", "ask for another reply")
def reply(echo_id: str):
    """Keep the person's message (``content``; without it, reply to the conversation as it stands), write the
    echo's reply with the language model, and speak it in the echo's voice as it is written."""
    svc = services()
    echo_id = inputs.object_id(echo_id, "echo_id")
    caller = caller_id(required=True)
    echo = owned(svc.db.get_echo(echo_id), caller, "echo")
    data = json_body()
    content = text_field(data, "content", max_length=MAX_MESSAGE)
    if content is None and "content" in data:  # a blank message is a mistake; a retry leaves content out
        raise BadRequest("'content' is empty: send the message, or leave 'content' out to ask again.")
    fmt = output_format(data.get("format")).name
    speak = data.get("speak")
    if speak is None:  # by default an echo speaks when it has a voice, and never in another one
        speak = public_echo(echo)["voice_status"] == "ready"
    if not isinstance(speak, bool):
        raise BadRequest("'speak' must be true or false.")
    run = svc.replies.begin(echo=echo, user_id=caller, content=content, fmt=fmt, speak=speak)
    if "text/event-stream" in request.headers.get("Accept", ""):
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        response = Response(stream_with_context(_events(run)), mimetype="text/event-stream", headers=headers)
        response.call_on_close(run.close)  # also when the client went away before the first event was sent
        return response
    try:
        stored = run.run_to_end()
    finally:
        run.close()
    return {"success": True, "message": run.message, "reply": stored, **_speech(run)}, 201


def _speech(run: ReplyRun) -> dict[str, Any]:
    speaker = run.speaker
    if speaker is None:
        return {"audio_url": None, "audio": None}
    audio = speaker.describe() if speaker.url is not None else None
    if audio is not None:
        audio["complete"] = speaker.finished.is_set() and speaker.error is None
    answer: dict[str, Any] = {"audio_url": speaker.url, "audio": audio}
    if speaker.error is not None:
        answer["speech_error"] = {"error": speaker.error.code, "message": speaker.error.message}
    return answer


def _event(kind: str, payload: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {current_app.json.dumps(payload)}\n\n"


def _events(run: ReplyRun) -> Iterator[str]:
    """``message``, then ``delta``s (and ``audio`` once speech starts), then ``done``; or ``error`` part-way.
    A client that goes away closes this generator, which stops the model and drops the unfinished speech."""
    try:
        yield _event("message", {"message": run.message})
        for kind, payload in run.events():
            if kind == "done":
                payload = {**payload, **_speech(run)}
            yield _event(kind, payload)
    except EchoError as exc:
        log.warning("reply for echo %s failed part-way: %s %s", run.echo_id, exc.code, exc.message)
        yield _event("error", {"success": False, "error": exc.code, "message": exc.message, "status": exc.status})
    except Exception:  # noqa: BLE001 - the stream has started: say it failed, in the one error shape
        log.exception("reply for echo %s failed part-way", run.echo_id)
        yield _event("error", {"success": False, "error": "internal_error", "message": "Internal server error."})
    finally:
        run.close()
