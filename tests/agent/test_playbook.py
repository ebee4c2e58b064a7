from agent.context import Profile, QualificationField
from agent.playbook import run_playbook

from .profiles import SALES_PROFILE, agent, customer, turn

QUESTIONS = [field.question for field in SALES_PROFILE.fields]


def test_first_turn_greets_by_push_name_and_asks_the_first_question():
    decision = run_playbook(turn("Oi, vi o anúncio de vocês", push_name="Maria Souza 🌸"))

    assert decision.bubbles[0].startswith("Olá, Maria!")
    assert "Acme Soluções" in decision.bubbles[0]
    assert decision.bubbles[-1] == "Qual é o seu nome?"
    assert 1 <= len(decision.bubbles) <= 3
    assert decision.state == {"greeted": True, "awaiting": "name"}
    assert decision.stage == "qualifying"
    assert decision.actions == []
    assert decision.field_updates == {}
    assert decision.run.model == "playbook"


def test_first_turn_without_push_name_greets_plainly():
    decision = run_playbook(turn("Oi"))

    assert decision.bubbles[0].startswith("Olá! ")
    assert decision.bubbles[-1] == "Qual é o seu nome?"


def test_first_turn_skips_questions_the_lead_already_answered():
    decision = run_playbook(turn("Oi", lead_fields={"name": "Maria"}))

    assert decision.bubbles[-1] == "Qual é a sua empresa?"
    assert decision.state["awaiting"] == "company"


def test_first_turn_with_everything_known_hands_off_at_once():
    done = {"name": "Maria Souza", "company": "Padaria", "need": "estoque", "budget": 500, "timeline": "já"}
    decision = run_playbook(turn("Oi", lead_fields=done, push_name="Mari"))

    assert len(decision.bubbles) == 3
    assert decision.bubbles[0].startswith("Olá, Mari!")
    assert decision.bubbles[1].startswith("Tudo anotado, Maria!")
    assert decision.actions == ["handoff"]
    assert decision.stage == "qualified"


def test_full_conversation_qualifies_and_hands_off_a_hot_lead():
    answers = [
        "meu nome é maria souza",
        "Padaria Pão Quente",
        "Quero controlar o estoque",
        "uns 2 mil",
        "Para o mês que vem",
    ]
    lead_fields: dict = {}
    state: dict = {}
    history: list = []

    decision = run_playbook(turn("Olá!", push_name="Maria", state=state, history=history))
    history += [customer("Olá!"), *map(agent, decision.bubbles)]
    state = decision.state
    asked = [decision.bubbles[-1]]
    for answer in answers:
        decision = run_playbook(turn(answer, lead_fields=lead_fields, state=state, history=history))
        lead_fields.update(decision.field_updates)
        state = decision.state
        history += [customer(answer), *map(agent, decision.bubbles)]
        asked.append(decision.bubbles[-1])
        assert 1 <= len(decision.bubbles) <= 3

    assert asked[:5] == QUESTIONS
    assert lead_fields == {
        "name": "Maria Souza",
        "company": "Padaria Pão Quente",
        "need": "Quero controlar o estoque",
        "budget": 2000,
        "timeline": "Para o mês que vem",
    }
    assert decision.stage == "qualified"
    assert decision.actions == ["handoff"]
    assert decision.score == 100
    assert decision.temperature == "hot"
    assert len(decision.bubbles) == 2
    assert decision.bubbles[0] == "Tudo anotado, Maria! Agradeço pelas informações."
    assert "especialista da Acme Soluções" in decision.bubbles[-1]
    assert state["awaiting"] is None


def test_answers_move_score_and_temperature():
    decision = run_playbook(turn("Quero controlar o estoque", lead_fields={"name": "Ana"}, state=_awaiting("need")))

    # name 10 + need 30 = 40, exactly the warm threshold.
    assert decision.score == 40
    assert decision.temperature == "warm"
    assert decision.stage == "qualifying"


def test_money_answer_is_parsed_from_brazilian_format():
    decision = run_playbook(turn("R$ 1.500,00", state=_awaiting("budget"), lead_fields=_answered_up_to_budget()))

    assert decision.field_updates == {"budget": 1500}
    assert decision.bubbles[-1] == "Para quando você precisa?"


def test_money_answer_in_thousands():
    decision = run_playbook(turn("uns 2 mil", state=_awaiting("budget"), lead_fields=_answered_up_to_budget()))

    assert decision.field_updates == {"budget": 2000}


def test_missing_money_value_is_reasked_without_recording():
    decision = run_playbook(turn("ainda não sei", state=_awaiting("budget"), lead_fields=_answered_up_to_budget()))

    assert "budget" not in decision.field_updates
    assert len(decision.bubbles) == 1
    assert decision.bubbles[0] != "Qual é o orçamento previsto?"
    assert "valor" in decision.bubbles[0]
    assert decision.state["awaiting"] == "budget"
    assert decision.state["reasked"] == "budget"
    assert decision.actions == []


def test_second_failed_answer_skips_the_question_instead_of_looping():
    state = {**_awaiting("budget"), "reasked": "budget"}
    decision = run_playbook(turn("não sei mesmo", state=state, lead_fields=_answered_up_to_budget()))

    assert "budget" not in decision.field_updates
    assert decision.bubbles[-1] == "Para quando você precisa?"
    assert decision.state["skipped"] == ["budget"]
    assert decision.state["awaiting"] == "timeline"


def test_email_is_recorded_whenever_present():
    decision = run_playbook(turn("Padaria Pão Quente, meu e-mail é Maria@Padaria.com.br", state=_awaiting("company")))

    assert decision.field_updates == {
        "company": "Padaria Pão Quente, meu e-mail é Maria@Padaria.com.br",
        "email": "maria@padaria.com.br",
    }


def test_email_is_recorded_on_the_first_turn_too():
    decision = run_playbook(turn("Oi! Meu e-mail é joao@acme.com", push_name="João"))

    assert decision.field_updates == {"email": "joao@acme.com"}
    assert decision.bubbles[-1] == "Qual é o seu nome?"


def test_email_field_is_answered_by_an_address_and_reasked_without_one():
    profile = Profile(
        name="p",
        company_name="Acme",
        fields=(
            QualificationField("email", "Qual é o seu e-mail?", type="email", weight=50),
            QualificationField("city", "De qual cidade você fala?", weight=50),
        ),
    )
    missing = run_playbook(turn("não tenho", profile=profile, state=_awaiting("email")))
    given = run_playbook(turn("é ana@acme.com", profile=profile, state=_awaiting("email")))

    assert missing.field_updates == {}
    assert "e-mail" in missing.bubbles[0]
    assert given.field_updates == {"email": "ana@acme.com"}
    assert given.bubbles[-1] == "De qual cidade você fala?"


def test_handoff_is_requested_only_once():
    done = {field.key: "x" for field in SALES_PROFILE.fields}
    decision = run_playbook(turn("Tem alguém aí?", lead_fields=done, state={"greeted": True, "handed_off": True}))

    assert decision.actions == []
    assert decision.stage == "qualified"
    assert len(decision.bubbles) == 1
    assert "especialista" in decision.bubbles[0]


def test_no_greeting_when_the_agent_already_spoke():
    history = [customer("Oi"), agent("Olá! Qual é o seu nome?")]
    decision = run_playbook(turn("Maria", history=history))

    assert not any(bubble.startswith("Olá") for bubble in decision.bubbles)
    assert decision.bubbles[-1] == "Qual é o seu nome?"


def _awaiting(key: str) -> dict:
    return {"greeted": True, "awaiting": key}


def _answered_up_to_budget() -> dict:
    return {"name": "Maria", "company": "Padaria", "need": "estoque"}
