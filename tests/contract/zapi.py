from tests.contract.spec import ProviderSpec
from tests.payloads import fixture_names, load_fixture

SPEC = ProviderSpec(
    kind="zapi",
    fixtures=[name for name in fixture_names("zapi") if "/response." not in name],
    url=lambda secret: f"/webhooks/zapi/{secret}/",
    # Z-API cannot sign or add headers: the secret travels in the URL, nothing in the headers.
    sign=lambda raw, secret: {},
    send_text_method="POST",
    send_text_url=r".*/instances/inst-1/token/contract-instance-token/send-text$",
    send_text_ok=(200, load_fixture("zapi/response.send-text__docs.json")),
    sent_id="D241XXXX732339502B68",
    instance_token="contract-instance-token",
)
