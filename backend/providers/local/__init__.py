"""The offline voice engine: text (``text``), signal processing (``signal``), the piper engine and its render
pool (``engine``) and the provider over them (``provider``)."""

from backend.providers.local.engine import EngineBusy, LocalEngine, RenderPool
from backend.providers.local.provider import LocalProvider

__all__ = ["EngineBusy", "LocalEngine", "LocalProvider", "RenderPool"]
