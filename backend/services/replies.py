"""An echo's reply: the person's message kept, the memories found, the prompt made, the model's words streamed as
whole, checked sentences (``writing.py``), each spoken in the echo's voice into one progressive audio file as
soon as it is written, and the reply kept once whole, with the model that wrote it.

What is stored, whatever happens:

- the person's message, as soon as the request is accepted (a failed reply never loses it: asking again
  without ``content`` replies to it);
- the echo's reply only when the model finished it. A reply cut short (the model failed part-way, the client
  went away, the person stopped it) is not stored at all, and its audio is dropped: nothing half-said is ever
  kept or served as if it were complete.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from backend.audio import StreamEncoder
from backend.database import DatabaseManager
from backend.errors import (
    BadRequest,
    EchoError,
    LanguageModelError,
    NoVoice,
    RepliesOff,
    ServiceUnavailable,
    VoiceDeleted,
)
from backend.formats import FORMATS
from backend.providers.llm import ChatModel, CutShort
from backend.sentences import SentenceCutter, speakable
from backend.services import grounding, honesty, prompt, writing
from backend.services.honesty import Honesty
from backend.services.memories import ANSWERS, FORGOTTEN, Found
from backend.services.speech import Speech
from backend.services.voices import VoiceService

log = logging.getLogger(__name__)

HISTORY_MESSAGES = 60  # the newest messages read for the prompt (the token budget picks among them)
MEMORIES_PER_REPLY = 8  # memories chosen for an endpoint's prompt (as many as fit its budget go in)
EARLIER_REPLIES = 6  # the echo's replies a new one must not repeat
GUIDED_TOKENS = 90  # the bundled model's budget for one attempt (two or three short sentences)
_END, _ABORT = object(), object()
DEFAULT_PCM_RATE = 44100  # a provider that does not say its raw audio's rate (Fish.Audio's default)
HONEST = {"provider": "echo", "name": "honest answer"}
# Two memories whose cosines with a question are closer than this are told apart by chance: both are said. On the
# bench the right memory is first for 16 of 24 questions, and first or so tied second for 18.
NEAR_TIE = 0.01
DONT_REMEMBER = (
    "Oh, I don't remember that anymore{listener}.",
    "I'm sorry{listener}, that one has slipped away from me.",
    "You know, I can't recall that{listener}.",
)

Search = Callable[[Any, str, int], Sequence[Found]]  # (echo id, message, k) -> the most relevant memories


class ReplyService:
    def __init__(
        self,
        *,
        db: DatabaseManager,
        model: ChatModel | None,
        speech: Speech,
        voices: VoiceService,
        search: Search,
        link: Callable[[str], str],
        max_tokens: int,
        honesty: Honesty | None = None,
        sentences: int = 3,
        words: int = 60,
    ):
        self.link = link
        self.db = db
        self.model = model
        self.speech = speech
        self.voices = voices
        self.search = search
        self.max_tokens = max_tokens
        self.honesty = honesty or Honesty(None)
        self.sentences = sentences
        self.words = words
        self.window = prompt.Window()

    def status(self) -> dict[str, Any]:
        if self.model is None:
            return {"status": "off", "provider": "none", "detail": RepliesOff.default_message}
        return self.model.status()

    def begin(self, *, echo: dict, user_id: Any, content: str | None, fmt: str, speak: bool) -> ReplyRun:
        """Keep the person's message and start the reply; errors before the model's first words raise here.

        Without ``content`` the echo replies to the conversation as it stands, whose last message must then be
        the person's (the retry after a failure).
        """
        if self.model is None:
            raise RepliesOff()
        reference_id = self._voice(echo) if speak else None
        echo_id = echo["_id"]
        if content is not None:
            message = self.db.add_message(echo_id, "user", content, user_id=user_id)
            history = self.db.list_messages(echo_id, limit=HISTORY_MESSAGES)
        else:
            history = self.db.list_messages(echo_id, limit=HISTORY_MESSAGES)
            if not history or history[-1].get("role") != "user":
                raise BadRequest(
                    "There is no message to reply to: send 'content', the message the echo should answer.",
                    reason="nothing_to_reply_to",
                )
            message = history[-1]
        speaker = None
        if reference_id is not None:
            speaker = SpokenReply(self.speech, self.voices, self.link, reference_id, fmt, user_id)
        name = (echo.get("name") or "").strip()
        if self.honesty.asks_if_real(message["content"], name):
            # Never left to the model: the echo says what it is (see backend.services.honesty).
            run = ReplyRun(self.db, echo_id, user_id, message, speaker, HONEST)
            run.start(iter(writing.sentences_of(honesty.honest_answer(name))))
            return run
        found = list(self.search(echo_id, message["content"], MEMORIES_PER_REPLY))
        style = self._style(echo, history, found)
        run = ReplyRun(
            self.db, echo_id, user_id, message, speaker, {"provider": self.model.name, "name": self.model.model}
        )
        if self.model.guided:
            run.start(self._guided(echo, history, message["content"], found, style))
        else:
            messages = prompt.build(echo, [f.text for f in found], history)
            run.start(writing.checked(self.model.stream(messages, max_tokens=self.max_tokens), style))
        return run

    def _style(self, echo: dict, history: Sequence[dict], found: Sequence[Found]) -> writing.Style:
        earlier = [m["content"] for m in history if m.get("role") == "assistant"][-EARLIER_REPLIES:]
        about = [echo.get(key) or "" for key in ("name", "persona_prompt", "talking_with", "relation")]
        known = writing.known_words(*about, *[f.text for f in found], *[m.get("content", "") for m in history])
        return writing.Style(
            name=(echo.get("name") or "").strip(),
            listener=(echo.get("talking_with") or "").strip(),
            relation=(echo.get("relation") or "").strip(),
            max_sentences=self.sentences,
            max_words=self.words,
            known=known,
            kin={word for word in known if word in writing.KIN},
            earlier=[s for reply in earlier for s in writing.sentences_of(reply)],
        )

    def _guided(
        self, echo: dict, history: Sequence[dict], asked: str, found: Sequence[Found], style: writing.Style
    ) -> Iterator[str]:
        """The bundled model's reply: the memory that answers, said in the echo's first person, or "I don't
        remember" when a question about its life finds none; then the model's checked sentences."""
        assert self.model is not None
        name = style.name
        voice_of = grounding.pronouns([echo.get("persona_prompt") or "", *[f.text for f in found]])
        voice = grounding.FirstPerson(name, voice_of, style.listener)
        chosen = list(found[: prompt.GUIDED_MEMORIES])
        seed = sum(map(ord, asked)) % 100_000  # the same message gets the same words
        remembered = [voice.rewrite(f.text) if voice.mentions(f.text) else f.text for f in chosen]
        start: list[str] = []
        if grounding.asks_about_the_past(asked):
            best = chosen[0] if chosen else None
            if best is not None and best.cosine is not None and best.cosine >= ANSWERS:
                # The memory that answers; and the next one too when meaning cannot tell them apart.
                tied = [f for f in chosen[1:2] if f.cosine is not None and best.cosine - f.cosine < NEAR_TIE]
                for answer in [best, *tied]:
                    said = grounding.grounded_sentence(
                        answer.text, asked, name=name, pronoun=voice_of, listener=style.listener
                    )
                    sentence = writing.sentences_of(said)[:1] if said else []
                    if sentence and sum(len(s.split()) for s in [*start, *sentence]) <= style.max_words:
                        start += sentence
                if start:
                    style.max_sentences = min(self.sentences, len(start) + 1)  # and one sentence of the model's
            elif best is None or (best.cosine is not None and best.cosine < FORGOTTEN):
                listener = f", {style.listener}" if style.listener else ""
                line = DONT_REMEMBER[seed % len(DONT_REMEMBER)].format(listener=listener)
                start = [line]
                remembered = []  # nothing answers: the model is not handed memories to mix up
        messages = prompt.build_guided(echo, remembered, self.window.turns(echo["_id"], history))

        def ask(prefix: str, attempt: int) -> Iterator[str | CutShort]:
            assert self.model is not None
            return self.model.stream(
                messages,
                max_tokens=min(self.max_tokens, GUIDED_TOKENS),
                prefix=prefix,
                temperature=0.5 + 0.2 * (attempt - 1),
                seed=seed + attempt,
            )

        yield from writing.guided(ask, style, start)

    @staticmethod
    def _voice(echo: dict) -> str:
        """The voice the echo speaks in; never a stand-in for a deleted one."""
        if echo.get("voice_model_id"):
            return echo["voice_model_id"]
        if echo.get("voice_deleted_at"):
            raise VoiceDeleted(echo_id=echo["_id"])
        raise NoVoice(echo_id=echo["_id"])


class ReplyRun:
    """One reply on its way. ``events()`` drives it: ``delta`` pieces as the model writes, ``audio`` once the
    first sentence is being spoken, and ``done`` with the stored reply. ``close()`` stops it (the model, the
    speech) and keeps nothing of the reply unless it was done."""

    def __init__(
        self,
        db: DatabaseManager,
        echo_id: Any,
        user_id: Any,
        message: dict,
        speaker: SpokenReply | None,
        model: dict[str, str] | None = None,
    ):
        self.db = db
        self.model = model
        self.echo_id = echo_id
        self.user_id = user_id
        self.message = message
        self.speaker = speaker
        self.reply: dict | None = None
        self.text = ""
        self._pieces: Iterator[str] | None = None
        self._first: str | None = None
        self._cutter = SentenceCutter()

    def start(self, pieces: Iterator[str]) -> None:
        """Open the reply's stream of whole sentences and wait for the first (so a model that is down fails the
        request)."""
        self._pieces = iter(pieces)
        try:
            self._first = next(self._pieces, None)
        except BaseException:
            self.close()
            raise

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        announced = False
        try:
            pending = [self._first] if self._first is not None else []
            for sentence in _chain(pending, self._pieces):
                piece = (" " if self.text else "") + sentence
                self.text += piece
                yield "delta", {"text": piece}
                if self.speaker is not None:
                    for sentence in self._cutter.feed(piece):
                        self.speaker.say(sentence)
                    if not announced and self.speaker.url is not None:
                        announced = True
                        yield "audio", self.speaker.describe()
            text = self.text.strip()
            if not text:
                raise LanguageModelError("The language model wrote an empty reply.")
            if self.speaker is not None:
                for sentence in self._cutter.flush():
                    self.speaker.say(sentence)
                self.speaker.end()
                if not announced and self.speaker.url is not None:
                    announced = True
                    yield "audio", self.speaker.describe()
            self.reply = self.db.add_message(self.echo_id, "assistant", text, user_id=self.user_id, model=self.model)
            yield "done", {"reply": self.reply}
        finally:
            if self.reply is None:
                self.close()

    def run_to_end(self) -> dict:
        """Drive the reply to its end (the JSON answer): the stored reply."""
        for _ in self.events():
            pass
        assert self.reply is not None
        return self.reply

    def close(self) -> None:
        """Stop the model and drop unfinished speech; the reply is stored only if it was complete."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        if self.speaker is not None and self.reply is None:
            self.speaker.abort()


def _chain(first: list[str], rest: Iterator[str] | None) -> Iterator[str]:
    yield from first
    if rest is not None:
        yield from rest


class SpokenReply:
    """The reply's sentences spoken one after another into one progressive audio file.

    Each sentence is synthesized as raw audio by the echo's voice and encoded into the one file, so it plays
    as a single recording that grows sentence by sentence; its link works from the first sentence on. Speech
    runs in its own thread, so the model keeps writing while the voice speaks.
    """

    def __init__(self, speech: Speech, voices: VoiceService, link: Callable[[str], str], reference_id: str, fmt: str,
                 user_id: Any):  # fmt: skip
        self.speech = speech
        self.link = link
        self.voices = voices
        self.reference_id = reference_id
        self.fmt = fmt
        self.user_id = user_id
        self.provider = voices.provider_for(reference_id)  # a voice of a provider not offered fails here
        self.name: str | None = None
        self.url: str | None = None
        self.error: EchoError | None = None
        self.finished = threading.Event()
        self._sentences: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None

    def say(self, sentence: str) -> None:
        words = speakable(sentence)
        if not words or self.error is not None:
            return
        if self._thread is None:
            self._begin()
        self._sentences.put(words)

    def end(self) -> None:
        if self._thread is not None:
            self._sentences.put(_END)
        else:
            self.finished.set()

    def abort(self) -> None:
        if self._thread is not None:
            self._sentences.put(_ABORT)
        else:
            self.finished.set()

    def describe(self) -> dict[str, Any]:
        return {
            "audio_url": self.url,
            "format": self.fmt,
            "media_type": FORMATS[self.fmt].media_type,
            "provider": self.provider.name,
            "reference_id": self.reference_id,
        }

    def _begin(self) -> None:
        output = self.speech.store.new_output(self.fmt)
        self.name = output.name
        self.url = self.link(output.name)
        self._thread = threading.Thread(
            target=self._speak, args=(output,), name=f"reply-{output.name[:8]}", daemon=True
        )
        try:
            self._thread.start()
        except RuntimeError:  # no thread to be had: no audio for this reply, the text goes on
            output.discard()
            self.url = None
            self.error = ServiceUnavailable("The server is too busy to speak this reply.")
            self.finished.set()

    def _speak(self, output: Any) -> None:
        try:
            job = self.speech.start_stream(
                self._audio(),
                output=output,
                fmt=self.fmt,
                provider=self.provider.name,
                reference_id=self.reference_id,
                user_id=self.user_id,
            )
            for _ in job:
                pass
        except _Aborted:
            log.info("the reply was stopped; its audio %s is dropped", output.name)
        except EchoError as exc:
            self.error = exc
            log.warning("speaking a reply failed: %s", exc.message)
        except Exception as exc:  # noqa: BLE001 - the job dropped its file; followers see it vanish
            self.error = EchoError("Speaking the reply failed.")
            log.exception("speaking a reply failed: %s", type(exc).__name__)
        finally:
            output.discard()  # nothing, once committed
            self.finished.set()

    def _audio(self) -> Iterator[bytes]:
        """Encoded audio, sentence after sentence, until the reply ends (or is aborted: then it raises)."""
        encoder: StreamEncoder | None = None
        try:
            while True:
                item = self._sentences.get()
                if item is _ABORT:
                    raise _Aborted()
                if item is _END:
                    break
                stream = self.provider.synthesize(text=str(item), reference_id=self.reference_id, fmt="pcm")
                rate = stream.sample_rate or DEFAULT_PCM_RATE
                if encoder is None:
                    encoder = StreamEncoder(self.fmt, rate)
                for chunk in _samples(stream.chunks):
                    data = encoder.encode(chunk)
                    if data:
                        yield data
            if encoder is not None:
                tail = encoder.close()
                if tail:
                    yield tail
        finally:
            if encoder is not None:
                try:
                    encoder.close()
                except Exception:  # noqa: BLE001 - abandoned part-way: nothing to hand the last bytes to
                    log.debug("encoder closed part-way")


class _Aborted(Exception):
    """The reply was stopped: its audio must not be stored."""


def _samples(chunks: Iterator[bytes]) -> Iterator[np.ndarray]:
    """Raw 16-bit little-endian PCM as float samples, whatever the chunk boundaries."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        usable = len(data) - len(data) % 2
        rest = data[usable:]
        if usable:
            yield np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
