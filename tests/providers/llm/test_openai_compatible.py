"""Any OpenAI-compatible chat endpoint, through the openai SDK, against a fake on a loopback socket."""

from __future__ import annotations

import pytest

from backend.errors import LanguageModelBusy, LanguageModelError, LanguageModelTimeout, LanguageModelUnavailable
from backend.providers.llm import CUT_SHORT
from backend.providers.llm.openai_compatible import OpenAICompatibleModel
from tests.fake_llm import FakeLLM, Script, tokens_of
from tests.helpers import closed_port

MESSAGES = [{"role": "system", "content": "Be Rose."}, {"role": "user", "content": "Hello"}]


@pytest.fixture
def llm():
    fake = FakeLLM()
    yield fake
    fake.close()


def model_for(url: str, timeout: float = 5.0, key: str = "") -> OpenAICompatibleModel:
    return OpenAICompatibleModel(base_url=url, api_key=key, model="fake-model", timeout=timeout, max_retries=0)


def test_the_reply_streams_piece_by_piece_with_what_was_asked(llm):
    llm.script = Script(text="Hello, love. Lovely to hear from you!")
    model = model_for(llm.url, key="sk-abc")
    pieces = list(model.stream(MESSAGES, max_tokens=77))
    assert pieces == tokens_of("Hello, love. Lovely to hear from you!")
    sent = llm.requests[-1]
    assert sent["messages"] == MESSAGES and sent["max_tokens"] == 77 and sent["stream"] is True
    assert {k.lower(): v for k, v in llm.headers[-1].items()}["authorization"] == "Bearer sk-abc"
    model.close()


@pytest.mark.parametrize(
    "script, timeout, error, words",
    [
        (Script(status=401, error_message="bad key"), 5, LanguageModelError, "LLM_API_KEY"),
        (Script(status=403, error_message="forbidden"), 5, LanguageModelError, "LLM_API_KEY"),
        (Script(status=404, error_message="no such model"), 5, LanguageModelError, "no such model"),
        (Script(status=429, error_message="slow down"), 5, LanguageModelBusy, "rate limiting"),
        (Script(status=500, error_message="GPU melted"), 5, LanguageModelError, "GPU melted"),
        (Script(status=503, error_message="loading model"), 5, LanguageModelError, "loading model"),
        (Script(status=400, error_message="context too long"), 5, LanguageModelError, "context too long"),
        (Script(hang=2), 0.5, LanguageModelTimeout, "in time"),
        (Script(first_token_delay=2), 0.5, LanguageModelTimeout, "in time"),
        (Script(drop_after_tokens=2), 5, LanguageModelError, "before the reply"),
        (Script(stop_without_finish=True), 5, LanguageModelError, "before the reply"),
    ],
)
def test_faults_become_echos_errors_with_the_upstream_reason(llm, script, timeout, error, words):
    llm.script = script
    model = model_for(llm.url, timeout=timeout)
    with pytest.raises(error) as raised:
        list(model.stream(MESSAGES, max_tokens=20))
    assert type(raised.value) is error and words in raised.value.message
    model.close()


def test_an_endpoint_that_is_not_there_is_unavailable():
    model = model_for(f"http://127.0.0.1:{closed_port()}/v1")
    with pytest.raises(LanguageModelUnavailable):
        list(model.stream(MESSAGES, max_tokens=20))
    model.close()


def test_the_key_is_never_in_an_error(llm):
    key = "sk-live-SECRET-0123456789"
    llm.script = Script(status=500, error_message=f"key {key} is not allowed here")
    model = model_for(llm.url, key=key)
    with pytest.raises(LanguageModelError) as raised:
        list(model.stream(MESSAGES, max_tokens=20))
    assert key not in raised.value.message and "[key]" in raised.value.message
    model.close()


def test_status_says_whether_the_endpoint_answers_and_serves_the_model(llm):
    assert model_for(llm.url).status()["status"] == "ok"
    other = OpenAICompatibleModel(base_url=llm.url, api_key="", model="not-there", timeout=5, max_retries=0)
    assert other.status()["status"] == "degraded" and "not-there" in other.status()["detail"]
    gone = model_for(f"http://127.0.0.1:{closed_port()}/v1").status()
    assert gone["status"] == "unavailable" and gone["error"] == "language_model_unavailable"


@pytest.mark.parametrize("malformed", [5, 2.5, ["a", "b"], {"text": "hi"}, True], ids=repr)
def test_a_malformed_chunk_is_a_language_model_error_never_a_crash(llm, malformed):
    llm.script = Script(text="Hello there, love.", malformed=malformed, malformed_at=2)
    model = model_for(llm.url)
    with pytest.raises(LanguageModelError) as raised:
        list(model.stream(MESSAGES, max_tokens=50))
    assert raised.value.status == 502 and raised.value.code == "language_model_error"
    assert "malformed" in raised.value.message
    model.close()


def test_a_reply_cut_by_the_token_budget_says_so_last(llm):
    llm.script = Script(text="I remember the boat and the", finish="length")
    model = model_for(llm.url)
    pieces = list(model.stream(MESSAGES, max_tokens=6))
    assert pieces[-1] is CUT_SHORT and "".join(pieces[:-1]) == "I remember the boat and the"
    model.close()
