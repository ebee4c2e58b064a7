"""The golden conversations, played on the offline playbook (the LLM disabled)."""

from __future__ import annotations

import pytest

from agent.brain import decide
from agent.context import LLMConfig

from .golden_corpus import check, conversation_files, load, play, transcript

MINIMUM_CORPUS = 32


def test_the_corpus_is_large_enough():
    assert len(conversation_files()) >= MINIMUM_CORPUS


@pytest.mark.parametrize("path", conversation_files(), ids=lambda path: path.stem)
def test_golden_conversation_on_the_playbook(path):
    conversation = load(path, path_name="playbook")

    outcome = play(conversation, lambda context: decide(context, llm=LLMConfig()))

    problems = check(conversation, outcome)
    assert not problems, "\n".join([conversation.description, *problems, "", transcript(outcome)])
    assert all(turn.decision is None or turn.decision.run.model == "playbook" for turn in outcome.turns)
