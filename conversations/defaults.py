"""The default agent profile created on first run (a data migration uses these values)."""

DEFAULT_QUALIFICATION_FIELDS = [
    {"key": "name", "question": "Para começar, qual é o seu nome?", "type": "name", "weight": 10, "required": True},
    {"key": "company", "question": "Qual é o nome da sua empresa?", "type": "text", "weight": 15, "required": True},
    {
        "key": "need",
        "question": "Conta pra mim: o que você está buscando resolver?",
        "type": "text",
        "weight": 25,
        "required": True,
    },
    {
        "key": "budget",
        "question": "Qual é o orçamento que você tem em mente para isso (em R$)?",
        "type": "money",
        "weight": 25,
        "required": True,
    },
    {
        "key": "timeline",
        "question": "E para quando você precisa disso?",
        "type": "text",
        "weight": 25,
        "required": True,
    },
]

DEFAULT_PROFILE = {
    "name": "Default",
    "is_default": True,
    "company_name": "Recado",
    "company_description": "Sales team answering leads on WhatsApp.",
    "offer_description": "",
    "tone": "cordial, direto e humano; mensagens curtas como no WhatsApp",
    "qualification_fields": DEFAULT_QUALIFICATION_FIELDS,
    "hot_threshold": 70,
    "warm_threshold": 40,
    "debounce_seconds": 2,
    "debounce_max_wait_seconds": 20,
    "followup_cadence_hours": [24, 72],
    # Monday to Friday, 08:00-18:00 in the profile's time zone.
    "business_hours": {day: ["08:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
}
