"""Evolution in the contract suite: every webhook fixture (edits, deletes, send.message echoes, @lid
shapes and media kinds included) is posted signed and unsigned; `response.*` files are API answers."""

from tests.contract.spec import ProviderSpec
from tests.payloads import fixture_names, load_fixture

SPEC = ProviderSpec(
    kind="evolution",
    fixtures=[name for name in fixture_names("evolution") if "/response." not in name],
    url=lambda secret: "/webhooks/evolution/",
    sign=lambda raw, secret: {"HTTP_X_WEBHOOK_TOKEN": secret},
    send_text_method="POST",
    send_text_url=r".*/message/sendText/[^/]+$",
    send_text_ok=(201, load_fixture("evolution/response.sendText__v1.json")),
    sent_id="BAE55A31F9329575",
)
