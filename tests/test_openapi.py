"""The OpenAPI document at /openapi.json: covers every route, and schemathesis finds no 5xx or schema breach."""

from __future__ import annotations

import re
import secrets

import mongomock
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from backend.api_server import create_app
from backend.audio import OUTPUT_FORMATS
from backend.providers import CreatedVoice, SynthesisStream
from tests.helpers import MP3_BYTES

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


class FakeProvider:
    """A stand-in voice provider: instant, offline, well-formed audio."""

    name = "local"
    description = "test double"

    def owns(self, model_id: str) -> bool:
        return model_id.startswith("local-")

    def create_voice(self, *, title, audio_path, audio, transcript):
        return CreatedVoice(model_id=f"local-{secrets.token_hex(12)}")

    def delete_voice(self, model_id):
        return None

    def synthesize(self, *, text, reference_id, fmt):
        payloads = {"mp3": MP3_BYTES, "wav": b"RIFF\0\0\0\0WAVEfmt " + b"\0" * 40, "opus": b"OggS" + b"\0" * 40}
        return SynthesisStream(chunks=iter([payloads.get(fmt, b"\0\0" * 100)]), media_type=OUTPUT_FORMATS[fmt])

    def status(self):
        return {"status": "ok", "provider": self.name, "description": self.description}


@pytest.fixture(scope="module")
def api_app(tmp_path_factory):
    return create_app(
        {
            "DATA_DIR": str(tmp_path_factory.mktemp("openapi-data")),
            "VOICE_PROVIDER": "local",
            "UPLOAD_RATE_LIMIT": "100000 per minute",
            "SYNTHESIZE_RATE_LIMIT": "100000 per minute",
            "LOG_LEVEL": "ERROR",
        },
        environ={},
        db_client=mongomock.MongoClient(tz_aware=True),
        providers={"local": FakeProvider()},
    )


@pytest.fixture(scope="module")
def api_schema(api_app):
    return schemathesis.openapi.from_wsgi("/openapi.json", api_app)


def flask_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes.update((path, method) for method in rule.methods & METHODS)
    return routes


def test_document_describes_every_route_and_nothing_else(api_app):
    document = api_app.test_client().get("/openapi.json").json
    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method.upper() in METHODS
    }
    assert documented == flask_routes(api_app)


def test_api_conforms_to_its_document(api_schema):
    """Generated requests for every operation: no 5xx, and every answer matches the document.

    (schemathesis' own pytest plugin does not run under pytest 9 yet, so its strategies drive
    Hypothesis directly here.)
    """
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {tuple(reversed(op.label.split(" ", 1))) for op in operations}
    assert labels == flask_routes(api_schema.app) - {("/openapi.json", "GET")}  # schemathesis skips the document
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def check(case):
            case.call_and_validate(
                checks=[
                    checks.not_a_server_error,
                    checks.status_code_conformance,
                    checks.content_type_conformance,
                    checks.response_schema_conformance,
                ]
            )

        try:
            check()
        except Exception as exc:
            raise AssertionError(f"{operation.label}: {exc}") from exc
