"""Provider payload fixtures and how each provider signs them."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import jwt

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> dict:
    """A payload from tests/fixtures, e.g. 'evolution/messages.upsert__group_v1.json'."""
    return json.loads((FIXTURES / name).read_text())


def fixture_names(provider: str) -> list[str]:
    return sorted(f"{provider}/{path.name}" for path in (FIXTURES / provider).glob("*.json"))


def evolution_text(
    *, instance: str, message_id: str, phone_digits: str = "5511900000001", text: str = "Oi", push_name: str = "Maria"
) -> dict:
    """A v2 `messages.upsert` text body, shaped like the 2.3.7 capture in the fixtures."""
    body = copy.deepcopy(load_fixture("evolution/messages.upsert__text_lid_v2_3_7.json"))
    body["instance"] = instance
    key = body["data"]["key"]
    key["id"] = message_id
    key["remoteJid"] = key["remoteJidAlt"] = f"{phone_digits}@s.whatsapp.net"
    body["data"]["pushName"] = push_name
    body["data"]["message"]["conversation"] = text
    body["data"]["messageTimestamp"] = int(time.time())
    return body


def evolution_headers(secret: str) -> dict[str, str]:
    """Evolution webhook headers carrying our static token (set in the instance's webhook headers)."""
    return {"HTTP_X_WEBHOOK_TOKEN": secret}


def evolution_jwt(secret: str, *, ttl: int = 600, issued_at: int | None = None) -> str:
    """The HS256 JWT Evolution sends when its webhook headers hold `jwt_key` (generateJwtToken)."""
    iat = issued_at if issued_at is not None else int(time.time())
    return jwt.encode({"iat": iat, "exp": iat + ttl, "app": "evolution", "action": "webhook"}, secret, "HS256")
