"""An echo's reply with a small (guided) model: it starts from the memory that answers, in the echo's own first
person, says both when meaning cannot tell two apart, says it does not remember when nothing comes close, and is
stored with the model that wrote it."""

from __future__ import annotations

import mongomock
import pytest

from backend.database import DatabaseManager
from backend.services.memories import ANSWERS, FORGOTTEN, Found
from backend.services.replies import HONEST, ReplyService


class GuidedModel:
    """A small model that always goes on with the same sentence, recording what it was asked."""

    name = "local"
    model = "tiny"
    guided = True

    def __init__(self, text: str = "Those were good days."):
        self.text = text
        self.prefixes: list[str] = []

    def stream(self, messages, *, max_tokens, prefix="", temperature=0.7, seed=None):
        self.prefixes.append(prefix)
        self.messages = messages
        yield self.text


def found(text: str, cosine: float) -> Found:
    return Found(memory={"_id": text, "text": text}, cosine=cosine, bm25=0.0, score=cosine)


@pytest.fixture
def world():
    db = DatabaseManager(client=mongomock.MongoClient(tz_aware=True))
    user = db.get_or_create_user("local|anna", None)[0]["_id"]
    echo = db.create_echo(user_id=user, name="Joe", persona_prompt="He was a fisherman.", voice_model_id=None,
                          talking_with="Anna", relation="granddaughter")  # fmt: skip
    yield db, user, echo
    db.close()


def reply(db, user, echo, memories, asked, model=None):
    model = model or GuidedModel()
    service = ReplyService(db=db, model=model, speech=None, voices=None, search=lambda *_: memories, link=str,
                           max_tokens=100)  # fmt: skip
    return service.begin(echo=echo, user_id=user, content=asked, fmt="mp3", speak=False).run_to_end(), model


def test_the_memory_that_answers_is_said_first_in_the_echos_voice(world):
    db, user, echo = world
    memories = [found("He married Ruth in 1962.", ANSWERS + 0.02), found("He hated cilantro.", ANSWERS - 0.05)]
    stored, model = reply(db, user, echo, memories, "When did you get wed?")
    assert stored["content"] == "I married Ruth in 1962. Those were good days."
    assert model.prefixes == ["I married Ruth in 1962. "]  # the model went on from the memory
    assert stored["model"] == {"provider": "local", "name": "tiny"}
    assert db.list_messages(echo["_id"])[-1]["content"] == stored["content"]  # stored is what is said


def test_two_memories_meaning_cannot_tell_apart_are_both_said(world):
    db, user, echo = world
    memories = [
        found("He married Ruth in 1962.", ANSWERS + 0.02),
        found("He danced at every wedding.", ANSWERS + 0.015),
    ]
    stored, _ = reply(db, user, echo, memories, "Tell me about your wedding?")
    assert stored["content"].startswith("I married Ruth in 1962. I danced at every wedding.")


def test_a_question_nothing_answers_gets_i_dont_remember_and_no_memories(world):
    db, user, echo = world
    memories = [found("He hated cilantro.", FORGOTTEN - 0.02)]
    stored, model = reply(db, user, echo, memories, "What was your mother's name?")
    first = stored["content"].split(".")[0]
    assert ("remember" in first or "recall" in first or "slipped" in first) and "Anna" in first
    assert "cilantro" not in model.messages[-1]["content"]  # nothing to mix up


def test_an_ordinary_message_is_not_answered_from_a_memory(world):
    db, user, echo = world
    memories = [found("He married Ruth in 1962.", ANSWERS + 0.05)]
    stored, model = reply(db, user, echo, memories, "I miss you so much.")
    assert stored["content"] == "Those were good days." and model.prefixes == [""]
    assert "I married Ruth in 1962." in model.messages[-1]["content"]  # the memory is there, in his voice


def test_the_honest_answer_is_stored_as_echos_own(world):
    db, user, echo = world
    stored, model = reply(db, user, echo, [], "Are you a real person?")
    assert stored["content"].startswith("I'm not really Joe.") and stored["model"] == HONEST
    assert model.prefixes == []  # never left to the model
