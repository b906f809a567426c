"""A self-hosted fish-speech API server: the HTTP client (``client``) and the voice provider over it
(``provider``)."""

from backend.providers.fish_speech.client import FishSpeechClient, ReferenceAudio
from backend.providers.fish_speech.provider import FishSpeechProvider

__all__ = ["FishSpeechClient", "FishSpeechProvider", "ReferenceAudio"]
