"""Shared test data: a typical Brazilian SDR profile and message helpers."""

from __future__ import annotations

from agent.context import ChatMessage, Profile, QualificationField, TurnContext

SALES_PROFILE = Profile(
    name="Vendas",
    company_name="Acme Soluções",
    company_description="Software de gestão para pequenas empresas.",
    offer_description="ERP na nuvem com implantação em 30 dias.",
    tone="Simpático e direto.",
    fields=(
        QualificationField(key="name", question="Qual é o seu nome?", type="name", weight=10),
        QualificationField(key="company", question="Qual é a sua empresa?", type="text", weight=20),
        QualificationField(key="need", question="O que você está buscando resolver?", type="text", weight=30),
        QualificationField(key="budget", question="Qual é o orçamento previsto?", type="money", weight=25),
        QualificationField(key="timeline", question="Para quando você precisa?", type="text", weight=15),
    ),
    hot_threshold=70,
    warm_threshold=40,
)


def customer(text: str) -> ChatMessage:
    return ChatMessage(role="customer", text=text)


def agent(text: str) -> ChatMessage:
    return ChatMessage(role="agent", text=text)


def turn(*texts: str, state=None, lead_fields=None, push_name="", profile=SALES_PROFILE, history=()) -> TurnContext:
    new_messages = tuple(customer(text) for text in texts)
    return TurnContext(
        profile=profile,
        lead_fields=dict(lead_fields or {}),
        new_messages=new_messages,
        history=tuple(history) + new_messages,
        push_name=push_name,
        state=dict(state or {}),
    )
