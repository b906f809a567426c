"""The local engine's fixtures: one real provider (piper loaded once) for the provider's and the engine's tests."""

from __future__ import annotations

import pytest

from backend.providers.local import LocalProvider


@pytest.fixture(scope="package")
def provider(tmp_path_factory) -> LocalProvider:
    return LocalProvider(tmp_path_factory.mktemp("local-engine") / "data")
