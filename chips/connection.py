"""Connection events drive the chip lifecycle (DESIGN.md §4).

Every connection event — a webhook (`ConnectionUpdate`, `QrUpdate`) or a state read from the
gateway (`SessionInfo`) — is recorded on the chip's session, then moves the chip:

- connected: `pending → warming` (the warm-up clock starts once, and the open "WhatsApp code
  received" alerts are resolved: the number is linked); a chip degraded because it lost
  its connection goes back to `ready`. `degraded` is reachable only from `ready`/`active`, so such a
  chip had finished (or been declared past) its warm-up; `degraded → warming` is not in the table.
  A chip degraded for another reason (collapsing delivery, breaker) stays degraded on a reconnect:
  the health check or an operator decides. The open "disconnected" alert is resolved.
- disconnected / logged out: `ready|active → degraded`, a warning alert and a notification. A
  warming chip keeps its status (`warming → degraded` is not in the table) but gets the alert.
  A chip still pending has never connected: a failed pairing attempt is no news.
- a ban signal: `chips.bans.chip_ban`.
- banned / cancelled chips: the session is recorded, the status never changes.

Alerts and notifications fire once per outage: a disconnect alerts when the session was up (and no
outage alert is open yet), a connection notifies when it moves the chip or ends an open outage. So
the same event delivered twice, read again by the health check, or a gateway's own silent reconnect
("connecting" → "connected") writes nothing new. Events for one chip are serialized by its row lock,
the same lock `chip_transition` takes.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from chips.bans import chip_ban
from chips.lifecycle import OUT_OF_SERVICE, ChipStatus
from chips.models import AlertSeverity, Chip, ChipAlert, ChipSession, ChipTransition, SessionState
from chips.notifications import notify
from chips.services import alert_raise, alert_resolve, chip_session_apply, chip_transition
from chips.sms import SMS_CODE_ALERT
from integrations.providers.base import ConnectionUpdate, QrUpdate, SessionInfo

log = structlog.get_logger(__name__)

DOWN_STATES = frozenset({SessionState.DISCONNECTED, SessionState.LOGGED_OUT})
# Reason of every `→ degraded` transition caused by a lost connection: a reconnect undoes only those.
LOST_CONNECTION = "connection lost"
DISCONNECTED_ALERT = "disconnected"

# How long a QR code stays scannable. Baileys (Evolution, WAHA NOWEB) and whatsmeow (WAHA GOWS) give
# the first code of a pairing attempt 60 s and each refreshed code 20 s; Z-API documents ~20 s.
FIRST_QR_SECONDS = 60
REFRESHED_QR_SECONDS = 20
QR_SECONDS_BY_KIND = {"zapi": 20}


def qr_lifetime(kind: str, *, first: bool) -> timedelta:
    seconds = QR_SECONDS_BY_KIND.get(kind, FIRST_QR_SECONDS if first else REFRESHED_QR_SECONDS)
    return timedelta(seconds=seconds)


def connection_event_apply(
    *,
    chip_id: int,
    update: ConnectionUpdate | QrUpdate | SessionInfo,
    triggered_by: str,
    first_qr: bool = False,
) -> ChipSession:
    """Record a connection event on the chip's session and move the chip's lifecycle accordingly.

    `first_qr`: the update answers our own request for a new QR (its code lives longer than the
    gateway's periodic refreshes).
    """
    with transaction.atomic():
        chip = Chip.objects.select_for_update().select_related("gateway").get(pk=chip_id)
        previous_state = ChipSession.objects.filter(chip_id=chip_id).values_list("state", flat=True).first()
        session = chip_session_apply(
            chip_id=chip_id, update=update, qr_lifetime=qr_lifetime(chip.gateway.kind, first=first_qr)
        )
        if chip.status in OUT_OF_SERVICE or isinstance(update, QrUpdate):
            return session
        if update.banned:
            chip_ban(chip_id=chip.pk, reason=_ban_reason(update), triggered_by=triggered_by)
        elif update.state == SessionState.CONNECTED:
            _connected(chip, triggered_by)
        elif update.state in DOWN_STATES:
            _connection_lost(chip, previous_state, update, triggered_by)
    return session


def _connected(chip: Chip, triggered_by: str) -> None:
    moved = False
    if chip.status == ChipStatus.PROVISIONED:
        # Connected before our own "session opened" step recorded it: walk the table, one row per step.
        chip_transition(
            chip_id=chip.pk,
            to_status=ChipStatus.PENDING,
            reason="gateway session exists (it connected)",
            triggered_by=triggered_by,
        )
        chip.status = ChipStatus.PENDING
    if chip.status == ChipStatus.PENDING:
        moved = bool(
            chip_transition(
                chip_id=chip.pk,
                to_status=ChipStatus.WARMING,
                reason="connected to the gateway: warm-up starts",
                triggered_by=triggered_by,
            )
        )
        Chip.objects.filter(pk=chip.pk, warmup_started_at__isnull=True).update(warmup_started_at=timezone.now())
        if moved:
            # The number is linked: the WhatsApp codes Salvy received for it have served their purpose.
            ChipAlert.objects.filter(chip_id=chip.pk, kind=SMS_CODE_ALERT, resolved_at__isnull=True).update(
                resolved_at=timezone.now()
            )
    elif chip.status == ChipStatus.DEGRADED and _degraded_by_lost_connection(chip.pk):
        moved = bool(
            chip_transition(
                chip_id=chip.pk,
                to_status=ChipStatus.READY,
                reason="reconnected to the gateway",
                triggered_by=triggered_by,
            )
        )
    outage = list(_open_disconnect_alerts(chip.pk))
    if not (moved or outage):
        # The same news again (a repeated webhook, a health-check read), or the end of one of the
        # gateway's own silent reconnects ("connecting" → "connected"): nothing for operators.
        return
    for alert in outage:
        alert_resolve(alert=alert)
    status = Chip.objects.values_list("status", flat=True).get(pk=chip.pk)
    notify("connected", f"Chip {chip.phone} ({chip.instance_name}) is connected; status {status}.")
    log.info("chip.connected", chip_id=chip.pk, status=status, triggered_by=triggered_by)


def _connection_lost(
    chip: Chip, previous_state: str | None, update: ConnectionUpdate | SessionInfo, triggered_by: str
) -> None:
    went_down = previous_state not in DOWN_STATES
    description = _describe(update)
    moved = False
    if chip.status in (ChipStatus.READY, ChipStatus.ACTIVE):
        moved = bool(
            chip_transition(
                chip_id=chip.pk,
                to_status=ChipStatus.DEGRADED,
                reason=f"{LOST_CONNECTION}: {description}"[:255],
                triggered_by=triggered_by,
            )
        )
    if chip.status not in (ChipStatus.WARMING, ChipStatus.READY, ChipStatus.ACTIVE, ChipStatus.DEGRADED):
        return  # never connected yet: a failed pairing attempt is not an outage
    if not moved and (not went_down or _open_disconnect_alerts(chip.pk).exists()):
        return  # the same outage reported again (a repeated webhook, a state read, a failed restart)
    advice = "scan a new QR code (connect_chip)" if update.state == SessionState.LOGGED_OUT else "check the phone"
    alert_raise(
        chip_id=chip.pk,
        kind=DISCONNECTED_ALERT,
        severity=AlertSeverity.WARNING,
        message=f"{chip.phone} lost its WhatsApp connection ({description}): {advice}.",
        details={"state": update.state, "reason_code": update.reason_code, "detail": update.detail},
    )
    notify("disconnected", f"Chip {chip.phone} ({chip.instance_name}) disconnected: {description}.")
    log.warning("chip.disconnected", chip_id=chip.pk, state=update.state, reason_code=update.reason_code)


def _open_disconnect_alerts(chip_id: int) -> QuerySet[ChipAlert]:
    return ChipAlert.objects.filter(chip_id=chip_id, kind=DISCONNECTED_ALERT, resolved_at__isnull=True)


def _degraded_by_lost_connection(chip_id: int) -> bool:
    reason = (
        ChipTransition.objects.filter(chip_id=chip_id, to_status=ChipStatus.DEGRADED)
        .order_by("-created_at", "-id")
        .values_list("reason", flat=True)
        .first()
    )
    return bool(reason) and reason.startswith(LOST_CONNECTION)


def _describe(update: ConnectionUpdate | SessionInfo) -> str:
    parts = [update.state.replace("_", " ")]
    if update.reason_code is not None:
        parts.append(f"code {update.reason_code}")
    if update.detail:
        parts.append(update.detail)
    return ", ".join(parts)


def _ban_reason(update: ConnectionUpdate | SessionInfo) -> str:
    """The code once, then the adapter's words for it (which often end with the code again)."""
    if not update.detail:
        return f"ban signal from the gateway ({_describe(update)})"
    if update.reason_code is None:
        return f"ban signal from the gateway: {update.detail}"
    detail = update.detail.removesuffix(f" ({update.reason_code})")
    return f"ban signal from the gateway, code {update.reason_code}: {detail}"
