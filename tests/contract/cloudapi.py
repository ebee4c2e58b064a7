import hashlib
import hmac

from tests.contract.spec import ProviderSpec
from tests.payloads import fixture_names, load_fixture


def _sign(raw: bytes, secret: str) -> dict:
    """Meta signs the raw body with the app secret: X-Hub-Signature-256: sha256=<hex>."""
    return {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()}


SPEC = ProviderSpec(
    kind="cloudapi",
    fixtures=[name for name in fixture_names("cloudapi") if "/response." not in name],
    url=lambda secret: "/webhooks/cloudapi/",
    sign=_sign,
    send_text_method="POST",
    send_text_url=r".*/[^/]+/messages$",
    send_text_ok=(200, load_fixture("cloudapi/response.send__docs.json")),
    sent_id="wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA",
    gateway_extra={"verify_token": "contract-verify-token"},
)
