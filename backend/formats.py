"""The output formats Echo speaks in: one table (name, media type, file extension), checked once at the edge."""

from __future__ import annotations

from dataclasses import dataclass

from backend.errors import BadRequest


@dataclass(frozen=True)
class Format:
    name: str  # what clients ask for ("format": "mp3")
    media_type: str  # what the audio is served as
    extension: str  # what stored files of it are named with


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("mp3", "audio/mpeg", "mp3"),
        Format("wav", "audio/wav", "wav"),
        Format("opus", "audio/ogg", "opus"),
        Format("pcm", "audio/pcm", "pcm"),
    )
}
DEFAULT = "mp3"

# Raw PCM says nothing of itself, so Echo's is always one shape, whichever engine spoke it (and the same as
# OpenAI's speech API): 24,000 samples a second, 16-bit signed little-endian, mono.
PCM_SAMPLE_RATE = 24000

# For patterns that match stored names: "mp3|wav|opus|pcm".
EXTENSIONS_PATTERN = "|".join(sorted({f.extension for f in FORMATS.values()}))


def output_format(value: object, field: str = "format") -> Format:
    """The format a client asked for (case-insensitive; missing means mp3); anything else is a 400."""
    if value in (None, ""):
        return FORMATS[DEFAULT]
    if isinstance(value, str) and value.strip().lower() in FORMATS:
        return FORMATS[value.strip().lower()]
    raise BadRequest(f"'{field}' must be one of {', '.join(FORMATS)}.")


def format_of_name(name: str) -> Format:
    """The format of a stored file, by its extension (names are ``<token>.<extension>``)."""
    extension = name.rsplit(".", 1)[-1]
    return next(f for f in FORMATS.values() if f.extension == extension)
