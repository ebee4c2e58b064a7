import hashlib
import hmac

from tests.contract.spec import ProviderSpec
from tests.payloads import fixture_names, load_fixture


def _sign(raw: bytes, secret: str) -> dict:
    """WAHA signs the raw body: X-Webhook-Hmac = hex HMAC-SHA512 keyed with the webhook's hmac.key."""
    return {
        "HTTP_X_WEBHOOK_HMAC": hmac.new(secret.encode(), raw, hashlib.sha512).hexdigest(),
        "HTTP_X_WEBHOOK_HMAC_ALGORITHM": "sha512",
    }


SPEC = ProviderSpec(
    kind="waha",
    fixtures=[name for name in fixture_names("waha") if "/response." not in name],
    url=lambda secret: "/webhooks/waha/",
    sign=_sign,
    send_text_method="POST",
    send_text_url=r".*/api/sendText$",
    send_text_ok=(201, load_fixture("waha/response.sendText__noweb_issue760.json")),
    sent_id="3EB08A6895830F110A5E4D",
)
