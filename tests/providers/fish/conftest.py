"""The Fish.Audio tests' client: the real one, on a transport mocked by the ``fish`` fixture (tests/conftest.py)."""

from __future__ import annotations

import pytest

from backend.providers.fish import FishAudioClient
from tests.helpers import FISH_KEY, FISH_URL


@pytest.fixture
def client():
    return FishAudioClient(api_key=FISH_KEY, base_url=FISH_URL, tts_model="s2-pro", max_retries=2)
