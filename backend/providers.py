"""The interface every voice provider (Fish.Audio, the local engine) offers to VoiceServiceWrapper."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from backend.audio import DecodedAudio

SYNTH_FORMATS = ("mp3", "wav", "opus", "pcm")


@dataclass(frozen=True)
class CreatedVoice:
    """A voice model the provider has made from a reference recording."""

    model_id: str
    state: str = "trained"
    details: dict[str, Any] = field(default_factory=dict)  # stored with the voice model record


@dataclass(frozen=True)
class SynthesisStream:
    """Encoded audio in the asked-for format, produced chunk by chunk."""

    chunks: Iterator[bytes]
    media_type: str
    sample_rate: int | None = None


class VoiceProvider(Protocol):
    name: str  # "fish" or "local"
    description: str  # what a person is told about it (health, README)

    def owns(self, model_id: str) -> bool:
        """Whether a model id was made by this provider."""

    def create_voice(
        self, *, title: str, audio_path: Path, audio: DecodedAudio, transcript: str | None
    ) -> CreatedVoice: ...

    def delete_voice(self, model_id: str) -> None:
        """Delete a model; an id the provider no longer knows is not an error."""

    def synthesize(self, *, text: str, reference_id: str | None, fmt: str) -> SynthesisStream: ...

    def status(self) -> dict[str, Any]:
        """{'status': 'ok'|'unavailable'|..., 'provider': name, 'description': ..., ...}"""
