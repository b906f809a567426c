"""Fish.Audio: the HTTP client (``client``) and the voice provider over it (``provider``)."""

from backend.providers.fish.client import FishAudioClient
from backend.providers.fish.provider import FishAudioProvider

__all__ = ["FishAudioClient", "FishAudioProvider"]
