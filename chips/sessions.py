"""A chip's session on its gateway: create it with our webhook, pair it (QR or pairing code), read it, log it out.

The gateway calls go through the provider interface (`session_create`, `session_connect`,
`session_state`, `session_logout`); what they answer is applied by
`chips.connection.connection_event_apply`, exactly like the gateway's own webhooks, so a state
read by the health check and a webhook that says the same thing have the same effect (once).
Provider errors propagate as `ProviderError`: the caller decides whether to retry or count them.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from chips.connection import connection_event_apply
from chips.lifecycle import OUT_OF_SERVICE, ChipStatus
from chips.models import Chip, ChipSession, Gateway, SessionState
from chips.selectors import chip_address, gateway_config
from chips.services import chip_transition
from integrations.phones import normalize_phone
from integrations.providers.base import ConnectionUpdate, NotSupported, Provider
from integrations.providers.registry import provider_class, provider_for

log = structlog.get_logger(__name__)

# Header that carries the gateway's webhook secret, by webhook endpoint, for gateways that
# authenticate by a static header we configure (Evolution and the sandbox, which speaks its wire
# format). WAHA signs bodies with the secret itself (HMAC) and Z-API has it in the URL path.
WEBHOOK_SECRET_HEADERS = {"evolution": "X-Webhook-Token"}


def chip_webhook_url(gateway: Gateway) -> str:
    """The public URL this gateway must post its webhooks to (with the secret segment where the URL carries it)."""
    provider_cls = provider_class(gateway.kind)
    name = f"webhook-{provider_cls.webhook_endpoint}"
    if provider_cls.webhook_path_secret:
        if not gateway.webhook_secret:
            raise ValidationError(f"gateway {gateway.name} has no webhook secret for its webhook URL")
        path = reverse(name, kwargs={"secret": gateway.webhook_secret})
    else:
        path = reverse(name)
    return f"{settings.PUBLIC_BASE_URL}{path}"


def chip_webhook_headers(gateway: Gateway) -> dict[str, str]:
    """Headers the gateway must send with every webhook so that our endpoint accepts it."""
    header = WEBHOOK_SECRET_HEADERS.get(provider_class(gateway.kind).webhook_endpoint)
    if header and gateway.webhook_secret:
        return {header: gateway.webhook_secret}
    return {}


def chip_session_open(*, chip_id: int, triggered_by: str) -> ChipSession:
    """Create the chip's session on its gateway with our webhook configured; `provisioned → pending`.

    The QR or pairing code the gateway answers with is stored. A gateway whose numbers are not
    connected through a session (Cloud API: registered by SMS code; Whaticket: paired in its own
    app) is not called: the chip still becomes `pending`, and the session's `detail` says what to do.
    """
    chip = _chip_in_service(chip_id)
    provider = _provider(chip)
    if not provider.sessions_managed:
        return _session_elsewhere(chip, triggered_by, f"{chip.gateway.get_kind_display()} numbers are not paired here")
    try:
        info = provider.session_create(
            chip_address(chip),
            webhook_url=chip_webhook_url(chip.gateway),
            webhook_headers=chip_webhook_headers(chip.gateway) or None,
        )
    except NotSupported as exc:
        return _session_elsewhere(chip, triggered_by, str(exc))
    with transaction.atomic():
        _opened(chip, triggered_by, f"session created on gateway {chip.gateway.name}")
        session = connection_event_apply(chip_id=chip.pk, update=info, triggered_by=triggered_by, first_qr=True)
    log.info("chip.session_opened", chip_id=chip.pk, state=session.state, triggered_by=triggered_by)
    return session


def chip_session_connect(*, chip_id: int, pairing_phone: str = "", triggered_by: str = "operator") -> ChipSession:
    """A new QR code, or a pairing code for `pairing_phone` (the chip's own number, typed on the phone).

    A chip whose session was never opened gets it opened first.
    """
    chip = _chip_in_service(chip_id)
    phone = ""
    if pairing_phone:
        phone = normalize_phone(pairing_phone) or ""
        if not phone:
            raise ValidationError(f"{pairing_phone!r} is not a phone number (expected E.164, e.g. +5511987654321)")
    provider = _provider(chip)
    if not provider.sessions_managed:
        raise NotSupported(
            f"{chip.gateway.get_kind_display()} does not manage sessions: there is no QR or pairing code to ask for"
        )
    if phone and not provider.supports_pairing_code:
        raise ValidationError(f"{chip.gateway.get_kind_display()} cannot pair with a code: scan the QR code instead")
    if chip.status == ChipStatus.PROVISIONED:
        session = chip_session_open(chip_id=chip.pk, triggered_by=triggered_by)
        if session.state == SessionState.CONNECTED:
            return session  # linked already: there is nothing to scan
    info = provider.session_connect(chip_address(chip), pairing_phone=phone)
    return connection_event_apply(chip_id=chip.pk, update=info, triggered_by=triggered_by, first_qr=True)


def chip_session_refresh(*, chip_id: int, triggered_by: str = "task:health_check") -> ChipSession:
    """Ask the gateway for the chip's connection state and apply it; records when it was checked.

    Applied like a webhook: a gateway that went quiet about a disconnect (or a connect) is caught here.
    """
    chip = Chip.objects.select_related("gateway").get(pk=chip_id)
    info = _provider(chip).session_state(chip_address(chip))
    now = timezone.now()
    with transaction.atomic():
        session = connection_event_apply(chip_id=chip.pk, update=info, triggered_by=triggered_by)
        ChipSession.objects.filter(pk=session.pk).update(checked_at=now)
    session.checked_at = now
    return session


def chip_session_logout(*, chip_id: int, triggered_by: str = "operator") -> ChipSession:
    """Log the number out of its gateway (the phone unlinks); the chip counts as disconnected until paired again."""
    chip = Chip.objects.select_related("gateway").get(pk=chip_id)
    _provider(chip).session_logout(chip_address(chip))
    update = ConnectionUpdate(state=SessionState.LOGGED_OUT, detail=f"logged out by {triggered_by}")
    return connection_event_apply(chip_id=chip.pk, update=update, triggered_by=triggered_by)


def _chip_in_service(chip_id: int) -> Chip:
    chip = Chip.objects.select_related("gateway").get(pk=chip_id)
    if chip.status in OUT_OF_SERVICE:
        raise ValidationError(f"chip {chip.phone} is {chip.status}: it cannot be connected")
    return chip


def _provider(chip: Chip) -> Provider:
    return provider_for(gateway_config(chip.gateway), timeout=settings.GATEWAY_HTTP_TIMEOUT)


def _opened(chip: Chip, triggered_by: str, reason: str) -> None:
    if chip.status == ChipStatus.PROVISIONED:
        chip_transition(chip_id=chip.pk, to_status=ChipStatus.PENDING, reason=reason, triggered_by=triggered_by)


def _session_elsewhere(chip: Chip, triggered_by: str, why: str) -> ChipSession:
    """The number is connected outside Recado: say so on the session, and wait for it as `pending`."""
    detail = f"{why}: the number is connected on the gateway's side"[:255]
    with transaction.atomic():
        _opened(chip, triggered_by, detail)
        session, _ = ChipSession.objects.select_for_update().get_or_create(chip_id=chip.pk)
        session.detail = detail
        session.save(update_fields=["detail", "updated_at"])
    log.info("chip.session_not_managed", chip_id=chip.pk, gateway_kind=chip.gateway.kind)
    return session
