"""Svix webhook signatures (how Salvy signs its webhooks), checked with the `svix` package.

svix 2.x quirks handled here: `Webhook.verify()` returns None (parse the body yourself), and a
malformed `svix-signature` entry (no comma) raises ValueError instead of WebhookVerificationError.
Both, and missing headers, become one SignatureInvalid.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks.webhooks import EmptyWebhookSecretError
from svix.webhooks import Webhook, WebhookVerificationError

#: Each header may also come under its Standard Webhooks name (white-labelled Svix).
_HEADER_NAMES = {
    "svix-id": "webhook-id",
    "svix-timestamp": "webhook-timestamp",
    "svix-signature": "webhook-signature",
}


class SignatureInvalid(Exception):
    """The request does not carry a valid Svix signature for our secret: reject it."""


class SecretInvalid(SignatureInvalid):
    """Our own signing secret is empty or not a Svix secret: nothing can be verified (fail closed)."""


def verify_svix(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Raise SignatureInvalid unless `body` (the raw bytes, never re-serialised JSON) is signed with `secret`.

    `headers` may be Django's `request.headers` or any mapping: names are matched case-insensitively.
    Timestamps more than 5 minutes from now are refused (replay protection).
    """
    webhook = _webhook(secret)
    lowered = {str(name).lower(): value for name, value in headers.items()}
    found: dict[str, str] = {}
    missing = []
    for name, alias in _HEADER_NAMES.items():
        value = lowered.get(name) or lowered.get(alias)
        if value:
            found[name] = value
        else:
            missing.append(name)
    if missing:
        raise SignatureInvalid(f"missing Svix headers: {', '.join(missing)}")
    try:
        webhook.verify(body, found)
    except WebhookVerificationError as exc:
        raise SignatureInvalid(f"Svix signature rejected: {exc}") from exc
    except ValueError as exc:
        # A signature entry without "v1,", undecodable base64, or a body that is not UTF-8.
        raise SignatureInvalid(f"malformed Svix signature header or body: {exc.__class__.__name__}") from exc


def svix_sign(secret: str, msg_id: str, timestamp: int | datetime, body: bytes | str) -> dict[str, str]:
    """The `svix-*` headers Svix would send for `body`: for tests and the local simulator."""
    if isinstance(timestamp, datetime):
        # svix's sign() overwrites the tzinfo with UTC instead of converting: convert first.
        moment = timestamp.astimezone(UTC) if timestamp.tzinfo else timestamp
    else:
        moment = datetime.fromtimestamp(timestamp, tz=UTC)
    text = body.decode() if isinstance(body, bytes) else body
    signature = _webhook(secret).sign(msg_id, moment, text)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(moment.replace(tzinfo=UTC).timestamp())),
        "svix-signature": signature,
    }


def _webhook(secret: str) -> Webhook:
    try:
        return Webhook(secret)
    except (EmptyWebhookSecretError, ValueError) as exc:
        # binascii.Error (bad base64) is a ValueError. Never echo the secret.
        raise SecretInvalid("the Svix signing secret is empty or not a valid whsec_ secret") from exc
