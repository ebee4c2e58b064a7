"""The words of a follow-up: a short, friendly nudge to a lead who went quiet (Brazilian Portuguese).

Deterministic on purpose: a follow-up goes out unprompted, so it must never carry anything a
model made up (a price, a link, a promise). The step picks the wording; later steps are softer
and the last one offers an easy way out, which also keeps the number's reputation healthy.
"""

from __future__ import annotations

from typing import Any

from agent.context import Profile

FIRST = "Oi{name}! Passando para saber se ficou alguma dúvida. Posso te ajudar a seguir com {topic}?"
SECOND = "Oi{name}, tudo bem? Ainda tem interesse em {topic}? Se preferir, me diga o melhor horário para falarmos."
LAST = (
    "Oi{name}! Vou encerrar por aqui para não te incomodar. Quando quiser retomar {topic}, é só me chamar. "
    "Se não quiser mais receber mensagens, responda SAIR."
)


def followup_text(*, profile: Profile, lead_fields: dict[str, Any], push_name: str, step: int, last: bool) -> str:
    name = str(lead_fields.get("name") or push_name or "").strip().split(" ")[0]
    need = str(lead_fields.get("need") or "").strip()
    topic = f'"{need[:60]}"' if need else f"a conversa com a {profile.company_name}"
    template = LAST if last else (FIRST if step <= 1 else SECOND)
    return template.format(name=f", {name}" if name else "", topic=topic)
