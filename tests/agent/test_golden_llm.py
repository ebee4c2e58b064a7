"""The golden conversations on the LLM path, with recorded model responses.

Each `golden/<name>.yaml` has a recording `golden/llm/<name>.json` (format in golden/llm/README.md):
the chat-completion responses a well-behaved model gave, turn by turn, including tool calls,
malformed tool calls, timeouts and rate limits. A fake OpenAI-compatible server on loopback
serves them in order; every turn must consume exactly its responses, the turns marked as
fallbacks (and only those) must fall back, and the lead must end as the file expects.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.brain import decide

from . import golden_corpus
from .conftest import llm_config

RECORDINGS_DIR = golden_corpus.GOLDEN_DIR / "llm"
# Recorded stalls last longer than this, so the client times out and the SDK retries once.
TIMEOUT_SECONDS = 0.5


def recording_for(path: Path) -> dict:
    recording_path = RECORDINGS_DIR / f"{path.stem}.json"
    if not recording_path.exists():
        pytest.fail(f"no recorded model responses for {path.name}: add {recording_path.relative_to(Path.cwd())}")
    return json.loads(recording_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", golden_corpus.conversation_files(), ids=lambda path: path.stem)
def test_golden_conversation_on_the_llm_path(path, fake_llm, settings):
    settings.AGENT_MAX_RETRIES = 1
    conversation = golden_corpus.load(path, path_name="llm")
    recording = recording_for(path)
    assert len(recording["turns"]) == len(conversation.turns), "one list of responses per turn of the file"
    config = llm_config(fake_llm.base_url, timeout=TIMEOUT_SECONDS)
    runs = []

    def decide_with_recording(context):
        responses = recording["turns"][len(runs)]
        fake_llm.script = list(responses)
        before = len(fake_llm.requests)
        decision = decide(context, llm=config)
        runs.append(decision.run)
        assert fake_llm.script == [], f"turn {len(runs)}: recorded responses left unused: {fake_llm.script}"
        assert len(fake_llm.requests) - before == len(responses), f"turn {len(runs)}: requests beyond the recording"
        return decision

    outcome = golden_corpus.play(conversation, decide_with_recording)

    problems = golden_corpus.check(conversation, outcome)
    assert not problems, "\n".join([*problems, "", golden_corpus.transcript(outcome)])
    fallback_turns = [number for number, run in enumerate(runs, start=1) if run.fallback_used]
    assert fallback_turns == recording.get("fallback_turns", []), golden_corpus.transcript(outcome)
    assert any(run.model == "gpt-4o-mini" and not run.fallback_used for run in runs), "the model answered no turn"


def test_every_recording_belongs_to_a_conversation():
    conversations = {path.stem for path in golden_corpus.conversation_files()}
    recordings = {path.stem for path in RECORDINGS_DIR.glob("*.json")}

    assert recordings - conversations == set()
    assert len(conversations) >= 30
