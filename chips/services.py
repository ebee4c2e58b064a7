"""Writes to the fleet. Views, admin actions, tasks and commands call these and stay thin."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from chips.lifecycle import ChipStatus, can_transition
from chips.models import AlertSeverity, Chip, ChipAlert, ChipSession, ChipTransition, Gateway, SessionState
from integrations.phones import brazilian_ddd, normalize_phone
from integrations.providers.base import ConnectionUpdate, QrUpdate, SessionInfo
from integrations.providers.registry import PROVIDERS, provider_class


class TransitionNotAllowed(Exception):
    def __init__(self, chip: Chip, to_status: str):
        super().__init__(f"chip {chip.phone} cannot go from {chip.status} to {to_status}")
        self.from_status = chip.status
        self.to_status = to_status


def gateway_create(
    *, kind: str, name: str, base_url: str, api_key: str, webhook_secret: str, verify_token: str = ""
) -> Gateway:
    if kind not in PROVIDERS:
        raise ValidationError(f"unknown gateway kind {kind!r}; choose one of: {', '.join(sorted(PROVIDERS))}")
    try:
        URLValidator(schemes=["http", "https"])(base_url)
    except ValidationError:
        raise ValidationError(f"base URL {base_url!r} is not an http(s) URL") from None
    if not webhook_secret:
        raise ValidationError("a webhook secret is required: without one no webhook could be authenticated")
    gateway = Gateway(
        kind=kind,
        name=name,
        base_url=base_url.rstrip("/"),
        api_key=api_key,
        webhook_secret=webhook_secret,
        verify_token=verify_token,
    )
    gateway.full_clean()
    gateway.save()
    return gateway


def gateway_update_base_url(*, gateway: Gateway, base_url: str) -> Gateway:
    gateway.base_url = base_url.rstrip("/")
    gateway.save(update_fields=["base_url"])
    return gateway


def chip_register(
    *, gateway: Gateway, instance_name: str, phone: str, instance_token: str = "", triggered_by: str = "command"
) -> Chip:
    """Record a number that already exists on a gateway. It starts `pending` until it connects."""
    e164 = normalize_phone(phone)
    if e164 is None:
        raise ValidationError(f"{phone!r} is not a valid phone number (expected E.164, e.g. +5511987654321)")
    if not instance_name.strip():
        raise ValidationError("the instance name cannot be empty")
    if provider_class(gateway.kind).requires_instance_token and not instance_token:
        raise ValidationError(f"a {gateway.get_kind_display()} chip needs its instance token (--instance-token)")
    if Chip.objects.filter(phone=e164).exists():
        raise ValidationError(f"a chip with phone {e164} is already registered")
    if Chip.objects.filter(gateway=gateway, instance_name=instance_name).exists():
        raise ValidationError(f"gateway {gateway.name} already has a chip on instance {instance_name!r}")
    try:
        with transaction.atomic():
            chip = Chip.objects.create(
                gateway=gateway,
                instance_name=instance_name,
                instance_token=instance_token,
                phone=e164,
                ddd=brazilian_ddd(e164),
                status=ChipStatus.PENDING,
                status_changed_at=timezone.now(),
            )
            ChipSession.objects.create(chip=chip)
            ChipTransition.objects.create(
                chip=chip,
                from_status="",
                to_status=ChipStatus.PENDING,
                reason=f"registered on gateway {gateway.name}",
                triggered_by=triggered_by,
            )
    except IntegrityError as exc:  # a concurrent registration won the race
        raise ValidationError(f"chip {e164} or instance {instance_name!r} is already registered") from exc
    return chip


def chip_transition(*, chip_id: int, to_status: str, reason: str, triggered_by: str) -> ChipTransition | None:
    """Move a chip to `to_status` if the lifecycle allows it, with an audit row.

    The row lock makes concurrent callers queue: the first one moves the chip, a late duplicate
    finds it already there and returns None without writing anything.
    """
    with transaction.atomic():
        chip = Chip.objects.select_for_update().get(pk=chip_id)
        if chip.status == to_status:
            return None
        if not can_transition(chip.status, to_status):
            raise TransitionNotAllowed(chip, to_status)
        from_status = chip.status
        chip.status = to_status
        chip.status_changed_at = timezone.now()
        chip.save(update_fields=["status", "status_changed_at", "updated_at"])
        if to_status == ChipStatus.CANCELLED:
            # A released number has no problems left to look at: its open alerts close with it.
            open_alerts = ChipAlert.objects.filter(chip_id=chip.pk, resolved_at__isnull=True)
            open_alerts.update(resolved_at=chip.status_changed_at)
        return ChipTransition.objects.create(
            chip=chip, from_status=from_status, to_status=to_status, reason=reason, triggered_by=triggered_by
        )


def chip_session_apply(
    *, chip_id: int, update: ConnectionUpdate | QrUpdate | SessionInfo, qr_lifetime: timedelta | None = None
) -> ChipSession:
    """Record what the gateway says about a chip's connection or its latest QR/pairing code.

    `update` is a webhook event or a `SessionInfo` read from the gateway (state and, while pairing,
    the QR or pairing code). `qr_lifetime`: how long a QR carried by this update stays scannable.
    """
    with transaction.atomic():
        return _session_apply(chip_id, update, qr_lifetime)


def _session_apply(
    chip_id: int, update: ConnectionUpdate | QrUpdate | SessionInfo, qr_lifetime: timedelta | None = None
) -> ChipSession:
    session, _ = ChipSession.objects.select_for_update().get_or_create(chip_id=chip_id)
    now = timezone.now()
    fields = ["updated_at"]
    qr_code = getattr(update, "qr_code", "")
    pairing_code = getattr(update, "pairing_code", "")
    qr_image = getattr(update, "qr_image", "")
    # A state read without a code (the gateway is still showing the last one) keeps the stored code.
    if isinstance(update, QrUpdate) or qr_code or pairing_code or qr_image:
        session.qr_code = qr_code
        session.qr_image = qr_image
        session.pairing_code = pairing_code
        session.qr_updated_at = now
        session.qr_expires_at = now + qr_lifetime if qr_lifetime and (qr_code or qr_image) else None
        fields += ["qr_code", "qr_image", "pairing_code", "qr_updated_at", "qr_expires_at"]
    if isinstance(update, QrUpdate):
        session.state = SessionState.PAIRING if update.pairing_code and not update.qr_code else SessionState.QR
        fields.append("state")
    else:
        session.state = update.state
        session.detail = (update.detail or "")[:255]
        fields += ["state", "detail"]
        if update.state == SessionState.CONNECTED:
            session.last_connected_at = now
            session.qr_code = session.qr_image = session.pairing_code = ""
            session.qr_expires_at = None
            fields += ["last_connected_at", "qr_code", "qr_image", "pairing_code", "qr_expires_at"]
        elif update.state in (SessionState.DISCONNECTED, SessionState.LOGGED_OUT):
            session.last_disconnected_at = now
            session.disconnect_reason_code = update.reason_code
            fields += ["last_disconnected_at", "disconnect_reason_code"]
    session.save(update_fields=list(dict.fromkeys(fields)))
    return session


def alert_raise(
    *, chip_id: int | None, kind: str, message: str, severity: str = AlertSeverity.WARNING, details: dict | None = None
) -> ChipAlert:
    """Open an alert, or refresh the open one of the same kind so a flapping problem is one row."""
    existing = ChipAlert.objects.filter(chip_id=chip_id, kind=kind, resolved_at__isnull=True).first()
    if existing is not None:
        existing.message = message[:500]
        existing.details = {**existing.details, **(details or {}), "repeats": existing.details.get("repeats", 1) + 1}
        existing.save(update_fields=["message", "details"])
        return existing
    return ChipAlert.objects.create(
        chip_id=chip_id, kind=kind, message=message[:500], severity=severity, details=details or {}
    )


def alert_resolve(*, alert: ChipAlert) -> None:
    ChipAlert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(resolved_at=timezone.now())
