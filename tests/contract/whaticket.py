import hashlib
import hmac
import time

from tests.contract.spec import ProviderSpec
from tests.payloads import fixture_names, load_fixture


def whaticket_signature(raw: bytes, secret: str, timestamp: int | str) -> str:
    """hex HMAC-SHA256(secret, "{timestamp}." + raw body), as the Whaticket relay signs."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()


def whaticket_headers(raw: bytes, secret: str, *, timestamp: int | str | None = None) -> dict[str, str]:
    """Django test-client headers of a relay delivery signed now (or at `timestamp`)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {"HTTP_X_TIMESTAMP": stamp, "HTTP_X_SIGNATURE": whaticket_signature(raw, secret, stamp)}


SPEC = ProviderSpec(
    kind="whaticket",
    fixtures=[name for name in fixture_names("whaticket") if "/response." not in name],
    url=lambda secret: "/webhooks/whaticket/",
    sign=lambda raw, secret: whaticket_headers(raw, secret),
    send_text_method="POST",
    send_text_url=r".*/api/messages/send$",
    send_text_ok=(200, load_fixture("whaticket/response.send__saas.json")),
    sent_id=None,
)
