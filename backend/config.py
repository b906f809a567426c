"""Settings read from the environment (and a .env file), validated once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_FISH_URL = "https://api.fish.audio"

# What VOICE_PROVIDER may say, and the spellings of fish-speech it accepts.
VOICE_PROVIDERS = ("auto", "fish", "fish-speech", "local")
_FISH_SPEECH_SPELLINGS = ("fish-speech", "fish_speech", "fishspeech")


class ConfigError(ValueError):
    """A setting has a value the server cannot run with."""


def default_engine_workers() -> int:
    """LOCAL_ENGINE_WORKERS by default: the cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_engine_threads() -> int:
    """LOCAL_ENGINE_THREADS by default: every core for each render, up to 4 (more barely helps piper)."""
    return min(default_engine_workers(), 4)


@dataclass(frozen=True)
class Settings:
    fish_audio_api_key: str = ""
    fish_audio_api_url: str = DEFAULT_FISH_URL
    fish_audio_model: str = "s2-pro"
    fish_audio_timeout: float = 60.0
    fish_audio_connect_timeout: float = 5.0
    fish_audio_max_retries: int = 2
    # A self-hosted fish-speech API server (fish-speech's tools/api_server.py): its address, its --api-key if it
    # was started with one, seconds to wait for its audio, and the rate of the raw 16-bit PCM it streams.
    fish_speech_url: str = ""
    fish_speech_api_key: str = ""
    fish_speech_timeout: float = 120.0
    fish_speech_sample_rate: int = 44100
    voice_provider: str = "auto"
    mongodb_uri: str = ""
    mongodb_db: str = "echo_db"
    mongodb_timeout_ms: int = 2000
    data_dir: Path = field(default_factory=lambda: REPO_ROOT / "data")
    max_upload_mb: int = 20
    min_audio_seconds: float = 3.0
    max_audio_seconds: float = 270.0
    max_text_chars: int = 5000
    api_host: str = "127.0.0.1"
    api_port: int = 5000
    cors_origins: tuple[str, ...] = ("http://localhost:8081", "http://127.0.0.1:8081")
    log_level: str = "INFO"
    auth0_domain: str = ""
    auth0_audience: str = ""
    auth0_issuer: str = ""
    auth0_jwks_url: str = ""
    auth0_client_id: str = ""  # the web page's public client id at the provider (sign-in on the page)
    secret_key: str = ""
    audio_url_ttl: int = 3600
    audio_retention_hours: int = 168
    max_json_kb: int = 64
    upload_rate_limit: str = "20 per hour"
    synthesize_rate_limit: str = "120 per hour;20 per minute"
    ratelimit_storage_uri: str = ""
    cache_max_mb: int = 512
    fish_audio_max_concurrency: int = 5
    fish_audio_queue_timeout: float = 60.0
    audio_store: str = "auto"
    local_engine_workers: int = field(default_factory=default_engine_workers)
    local_engine_queue: int = 32
    local_engine_queue_timeout: float = 30.0
    local_engine_threads: int = field(default_factory=default_engine_threads)
    llm_provider: str = "auto"
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""
    llm_timeout: float = 60.0
    llm_max_tokens: int = 200
    llm_workers: int = 1
    llm_queue: int = 8
    llm_queue_timeout: float = 30.0
    reply_rate_limit: str = "60 per hour;10 per minute"
    reply_sentences: int = 3
    reply_words: int = 60
    embeddings: str = "auto"

    @property
    def resolved_llm_provider(self) -> str:
        """'openai' (an OpenAI-compatible endpoint), 'local' (the bundled model) or 'none' (replies off)."""
        if self.llm_provider == "auto":
            return "openai" if self.llm_base_url else "local"
        return self.llm_provider

    @property
    def resolved_ratelimit_storage(self) -> str:
        """Where rate-limit counters live: RATELIMIT_STORAGE_URI, else MongoDB when configured (shared by every
        instance), else this process's memory."""
        return self.ratelimit_storage_uri or self.mongodb_uri or "memory://"

    @property
    def resolved_audio_store(self) -> str:
        """'gridfs' (audio in MongoDB, for several instances) or 'files' (audio under DATA_DIR)."""
        if self.audio_store == "auto":
            return "gridfs" if self.mongodb_uri else "files"
        return self.audio_store

    @property
    def auth_enabled(self) -> bool:
        """Sign-in (Auth0 or any OIDC provider) is on when a domain or issuer and an audience are set."""
        return bool((self.auth0_domain or self.auth0_issuer) and self.auth0_audience)

    @property
    def resolved_provider(self) -> str:
        """'fish', 'fish-speech' or 'local', or 'none' when Fish.Audio is forced without a key.

        auto: Fish.Audio when FISH_AUDIO_API_KEY is set, else fish-speech when FISH_SPEECH_URL is, else local.
        """
        if self.voice_provider == "auto":
            if self.fish_audio_api_key:
                return "fish"
            return "fish-speech" if self.fish_speech_url else "local"
        if self.voice_provider == "fish" and not self.fish_audio_api_key:
            return "none"
        return self.voice_provider


def _pick(values: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        value = values.get(name)
        if value not in (None, ""):
            return value
    return default


def _number(values: Mapping[str, Any], name: str, kind: type, default: Any, minimum: float) -> Any:
    raw = _pick(values, name, default=default)
    try:
        number = kind(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def normalize_fish_url(url: str) -> str:
    """Base URL without a trailing slash or the '/v1' that older .env files carry."""
    url = url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url or DEFAULT_FISH_URL


def normalize_fish_speech_url(url: str) -> str:
    """A fish-speech server's base URL: no trailing slash, nor the '/v1' or '/v1/tts' of its API's paths
    (fish-speech's own client is given http://127.0.0.1:8080/v1/tts, and people copy that); '' when unset."""
    url = url.strip().rstrip("/")
    for tail in ("/v1/tts", "/v1"):
        if url.endswith(tail):
            url = url[: -len(tail)].rstrip("/")
            break
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"FISH_SPEECH_URL must start with http:// or https://, got {url!r}")
    return url


def load_settings(overrides: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from, in rising priority: .env in the repository root, the environment, ``overrides``."""
    values: dict[str, Any] = {}
    dotenv_path = REPO_ROOT / ".env"
    if env is None:
        if dotenv_path.is_file():
            values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        env = os.environ
    values.update(env)
    values.update(overrides or {})

    provider = str(_pick(values, "VOICE_PROVIDER", default="auto")).strip().lower()
    if provider in _FISH_SPEECH_SPELLINGS:
        provider = "fish-speech"
    if provider not in VOICE_PROVIDERS:
        raise ConfigError(f"VOICE_PROVIDER must be auto, fish, fish-speech or local, got {provider!r}")
    fish_speech_url = normalize_fish_speech_url(str(_pick(values, "FISH_SPEECH_URL", default="")))
    if provider == "fish-speech" and not fish_speech_url:
        raise ConfigError(
            "VOICE_PROVIDER=fish-speech needs FISH_SPEECH_URL: the address of fish-speech's API server "
            "(python tools/api_server.py --listen 127.0.0.1:8080 gives http://127.0.0.1:8080)"
        )
    origins = _pick(values, "CORS_ORIGINS", default=None)
    if origins is None:
        cors = Settings.cors_origins
    elif isinstance(origins, (list, tuple)):
        cors = tuple(origins)
    else:
        cors = tuple(o.strip() for o in str(origins).split(",") if o.strip())
    audio_store = str(_pick(values, "AUDIO_STORE", default="auto")).strip().lower()
    if audio_store not in ("auto", "files", "gridfs"):
        raise ConfigError(f"AUDIO_STORE must be auto, files or gridfs, got {audio_store!r}")
    llm_provider = str(_pick(values, "LLM_PROVIDER", default="auto")).strip().lower()
    if llm_provider not in ("auto", "openai", "local", "none"):
        raise ConfigError(f"LLM_PROVIDER must be auto, openai, local or none, got {llm_provider!r}")
    llm_base_url = str(_pick(values, "LLM_BASE_URL", default="")).strip().rstrip("/")
    if llm_provider == "openai" and not llm_base_url:
        raise ConfigError("LLM_PROVIDER=openai needs LLM_BASE_URL (for example http://localhost:11434/v1 for Ollama)")
    if llm_base_url and not llm_base_url.startswith(("http://", "https://")):
        raise ConfigError(f"LLM_BASE_URL must start with http:// or https://, got {llm_base_url!r}")
    embeddings = str(_pick(values, "EMBEDDINGS", default="auto")).strip().lower()
    if embeddings not in ("auto", "local", "none"):
        raise ConfigError(f"EMBEDDINGS must be auto, local or none, got {embeddings!r}")
    llm_model = str(_pick(values, "LLM_MODEL", default="")).strip()
    if llm_base_url and llm_provider in ("auto", "openai") and not llm_model:
        raise ConfigError("LLM_BASE_URL needs LLM_MODEL: the name of the model the endpoint serves")
    domain = str(_pick(values, "AUTH0_DOMAIN", default="")).strip().removeprefix("https://").rstrip("/")
    issuer = str(_pick(values, "AUTH0_ISSUER", default=f"https://{domain}/" if domain else "")).strip()
    if issuer and not issuer.startswith(("https://", "http://")):
        # The issuer is compared with each token's "iss" as written, and the page signs in at it: no guessing.
        raise ConfigError(f"AUTH0_ISSUER must be the provider's full address, e.g. https://{issuer}/, got {issuer!r}")
    data_dir = Path(str(_pick(values, "DATA_DIR", default=REPO_ROOT / "data"))).expanduser()
    if not data_dir.is_absolute():
        data_dir = (REPO_ROOT / data_dir).resolve()

    return Settings(
        fish_audio_api_key=str(_pick(values, "FISH_AUDIO_API_KEY", default="")).strip(),
        fish_audio_api_url=normalize_fish_url(str(_pick(values, "FISH_AUDIO_API_URL", default=DEFAULT_FISH_URL))),
        fish_audio_model=str(_pick(values, "FISH_AUDIO_MODEL", default="s2-pro")).strip(),
        fish_audio_timeout=_number(values, "FISH_AUDIO_TIMEOUT", float, 60.0, 1.0),
        fish_audio_connect_timeout=_number(values, "FISH_AUDIO_CONNECT_TIMEOUT", float, 5.0, 0.1),
        fish_audio_max_retries=_number(values, "FISH_AUDIO_MAX_RETRIES", int, 2, 0),
        fish_speech_url=fish_speech_url,
        fish_speech_api_key=str(_pick(values, "FISH_SPEECH_API_KEY", default="")).strip(),
        fish_speech_timeout=_number(values, "FISH_SPEECH_TIMEOUT", float, 120.0, 1.0),
        fish_speech_sample_rate=_number(values, "FISH_SPEECH_SAMPLE_RATE", int, 44100, 8000),
        voice_provider=provider,
        mongodb_uri=str(_pick(values, "MONGODB_URI", "MONGO_URI", default="")).strip(),
        mongodb_db=str(_pick(values, "MONGODB_DB", default="echo_db")).strip(),
        mongodb_timeout_ms=_number(values, "MONGODB_TIMEOUT_MS", int, 2000, 50),
        data_dir=data_dir,
        max_upload_mb=_number(values, "MAX_UPLOAD_MB", int, 20, 1),
        max_text_chars=_number(values, "MAX_TEXT_CHARS", int, 5000, 1),
        api_host=str(_pick(values, "API_HOST", default="127.0.0.1")).strip(),
        api_port=_number(values, "API_PORT", int, 5000, 0),
        cors_origins=cors,
        log_level=str(_pick(values, "LOG_LEVEL", default="INFO")).upper(),
        auth0_domain=domain,
        auth0_audience=str(_pick(values, "AUTH0_AUDIENCE", default="")).strip(),
        auth0_issuer=issuer,
        auth0_jwks_url=str(
            _pick(values, "AUTH0_JWKS_URL", default=f"https://{domain}/.well-known/jwks.json" if domain else "")
        ).strip(),
        auth0_client_id=str(_pick(values, "AUTH0_CLIENT_ID", default="")).strip(),
        secret_key=str(_pick(values, "SECRET_KEY", default="")),
        audio_url_ttl=_number(values, "AUDIO_URL_TTL", int, 3600, 10),
        audio_retention_hours=_number(values, "AUDIO_RETENTION_HOURS", int, 168, 1),
        max_json_kb=_number(values, "MAX_JSON_KB", int, 64, 1),
        upload_rate_limit=str(_pick(values, "UPLOAD_RATE_LIMIT", default="20 per hour")),
        synthesize_rate_limit=str(_pick(values, "SYNTHESIZE_RATE_LIMIT", default="120 per hour;20 per minute")),
        ratelimit_storage_uri=str(_pick(values, "RATELIMIT_STORAGE_URI", default="")).strip(),
        cache_max_mb=_number(values, "CACHE_MAX_MB", int, 512, 0),
        fish_audio_max_concurrency=_number(values, "FISH_AUDIO_MAX_CONCURRENCY", int, 5, 1),
        fish_audio_queue_timeout=_number(values, "FISH_AUDIO_QUEUE_TIMEOUT", float, 60.0, 0.0),
        audio_store=audio_store,
        local_engine_workers=_number(values, "LOCAL_ENGINE_WORKERS", int, default_engine_workers(), 1),
        local_engine_queue=_number(values, "LOCAL_ENGINE_QUEUE", int, 32, 0),
        local_engine_queue_timeout=_number(values, "LOCAL_ENGINE_QUEUE_TIMEOUT", float, 30.0, 0.0),
        local_engine_threads=_number(values, "LOCAL_ENGINE_THREADS", int, default_engine_threads(), 1),
        llm_provider=llm_provider,
        llm_base_url=llm_base_url,
        llm_api_key=str(_pick(values, "LLM_API_KEY", default="")).strip(),
        llm_model=llm_model,
        llm_timeout=_number(values, "LLM_TIMEOUT", float, 60.0, 1.0),
        llm_max_tokens=_number(values, "LLM_MAX_TOKENS", int, 200, 16),
        llm_workers=_number(values, "LLM_WORKERS", int, 1, 1),
        llm_queue=_number(values, "LLM_QUEUE", int, 8, 0),
        llm_queue_timeout=_number(values, "LLM_QUEUE_TIMEOUT", float, 30.0, 0.0),
        reply_rate_limit=str(_pick(values, "REPLY_RATE_LIMIT", default="60 per hour;10 per minute")),
        reply_sentences=_number(values, "REPLY_SENTENCES", int, 3, 1),
        reply_words=_number(values, "REPLY_WORDS", int, 60, 10),
        embeddings=embeddings,
    )
