"""What the contract suite needs to know about each provider to drive it like the real one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProviderSpec:
    kind: str
    #: Fixture names under tests/fixtures/ (every webhook body of this provider).
    fixtures: list[str]
    #: The webhook URL for a gateway with this webhook secret (Z-API puts it in the path).
    url: Callable[[str], str]
    #: Django test-client headers (HTTP_*) that sign `raw` as the provider does with `secret`.
    sign: Callable[[bytes, str], dict]
    #: The send-text call as respx sees it: method and a URL regex (matched against the full URL).
    send_text_method: str
    send_text_url: str
    #: A successful send-text answer (status, JSON body) as the provider gives it.
    send_text_ok: tuple[int, object]
    #: The message id a successful send returns (None where the provider returns none).
    sent_id: str | None
    #: Extra Gateway fields (verify_token...) and the Chip's instance token, when the provider needs them.
    gateway_extra: dict = field(default_factory=dict)
    instance_token: str = ""
