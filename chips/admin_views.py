"""Operator screens of the fleet, served under /admin/: provisioning, connecting a chip, the fleet overview.

The views are thin: they read with plain queries and the fleet's selectors, and every write goes
through a service (provisioning, sessions, SMS codes, transitions, bans, alerts). Failures of Salvy
or of a gateway become messages on the page, never a server error. Pages that change while an
operator looks at them (a provisioning job, a QR code) poll a small JSON endpoint.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import segno
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from chips.bans import chip_ban
from chips.health import ChipHealth, chip_health_figures
from chips.lifecycle import ALLOWED_TRANSITIONS, OUT_OF_SERVICE, ChipStatus, can_transition
from chips.models import (
    Chip,
    ChipAlert,
    ChipSession,
    ChipTransition,
    Gateway,
    ProvisioningJob,
    ProvisioningStatus,
    SessionState,
    SmsCode,
)
from chips.pacing import daily_cap, sends_today_by_chip, warmup_day
from chips.provisioning import provisioning_request, takes_new_numbers
from chips.salvy_sync import CancelFailed, chip_cancel
from chips.services import TransitionNotAllowed, alert_resolve, chip_transition
from chips.sessions import chip_session_connect
from chips.sms import sms_code_mark_used
from integrations.phones import normalize_phone
from integrations.providers.base import ProviderError
from integrations.salvy import CANCEL_REASONS, SalvyError, salvy_client_from_settings

# How often the pages ask for news, in milliseconds: fast enough for a QR that lives ~20 s.
POLL_MS = 1500
DDD_CACHE_KEY = "chips:salvy:available-ddds"
SMS_CODES_SHOWN = 20
AUDIT_ROWS_SHOWN = 20
OPEN_ALERTS_SHOWN = 100
FINISHED = frozenset({ProvisioningStatus.SUCCEEDED, ProvisioningStatus.FAILED})
# Chips whose warm-up day, cap and sends today mean something (out-of-service ones send nothing).
PACED = frozenset({ChipStatus.WARMING, ChipStatus.READY, ChipStatus.ACTIVE, ChipStatus.DEGRADED})
SESSION_HINTS = {
    SessionState.CREATED: "The gateway session exists; ask for a QR code or a pairing code.",
    SessionState.QR: "Scan the QR code in WhatsApp > Linked devices > Link a device.",
    SessionState.PAIRING: "Enter the pairing code in WhatsApp > Linked devices > Link with phone number.",
    SessionState.CONNECTING: "The phone is linking; this takes a few seconds.",
    SessionState.CONNECTED: "The number is connected.",
    SessionState.DISCONNECTED: "The gateway lost the connection; ask for a new QR code.",
    SessionState.LOGGED_OUT: "The number was logged out; ask for a new QR code to link it again.",
}


def _require(request: HttpRequest, *perms: str) -> None:
    """Staff alone is not enough: the operator's Django permissions on the fleet apply too."""
    if not request.user.has_perms(perms):
        raise PermissionDenied


def _page(request: HttpRequest, template: str, title: str, **context) -> HttpResponse:
    """Render inside the admin's chrome (header, sidebar, breadcrumbs) like any admin page."""
    return render(request, template, {**admin.site.each_context(request), "title": title, **context})


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if timezone.is_naive(moment):  # a step written without an offset is UTC, like everything we store
        moment = timezone.make_aware(moment, UTC)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def _chip(chip_id: int) -> Chip | None:
    return Chip.objects.select_related("gateway").filter(pk=chip_id).first()


def _missing_chip(request: HttpRequest, chip_id: int) -> HttpResponseRedirect:
    messages.error(request, f"There is no chip with id {chip_id}; it may have been deleted.")
    return redirect("chips_admin:fleet")


def _user(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


# --- provisioning -------------------------------------------------------------------------------


class ProvisionForm(forms.Form):
    ddd = forms.ChoiceField(label="DDD", help_text="Area codes Salvy has numbers in right now.")
    name = forms.CharField(
        max_length=100, required=False, help_text="A label for the number at Salvy and in Recado (optional)."
    )
    gateway = forms.ModelChoiceField(
        queryset=Gateway.objects.none(), help_text="Where the number's WhatsApp session will live."
    )

    def __init__(self, *args, ddds: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ddd"].choices = [(ddd, ddd) for ddd in ddds]
        gateways = provisioning_gateways()
        self.fields["gateway"].queryset = gateways
        if len(gateways) == 1:  # nothing to choose: offer the one gateway instead of an empty choice
            self.fields["gateway"].empty_label = None
            self.fields["gateway"].initial = gateways[0].pk


def provisioning_gateways():
    """Active gateways where Recado can set a new number up by itself (the provisioning service's own rule)."""
    return Gateway.objects.filter(pk__in=[g.pk for g in Gateway.objects.filter(is_active=True) if takes_new_numbers(g)])


def _available_ddds() -> tuple[list[str], str]:
    """DDDs with stock at Salvy now, or no DDDs and the reason Salvy could not tell."""
    ttl = settings.SALVY_AREA_CODES_CACHE_SECONDS
    cached = cache.get(DDD_CACHE_KEY) if ttl else None
    if cached is not None:
        return cached, ""
    try:
        client = salvy_client_from_settings()
        client.max_attempts = 1  # an operator waiting on a page is better told now than after retries
        codes = client.area_codes(available_only=True)
    except SalvyError as exc:
        return [], f"Cannot list the available DDDs: {exc}"
    ddds = sorted({code.area_code for code in codes})
    if ttl:
        cache.set(DDD_CACHE_KEY, ddds, ttl)  # stock changes slowly, and the purchase checks it again
    return ddds, ""


def provision(request: HttpRequest) -> HttpResponse:
    _require(request, "chips.add_chip")
    ddds, salvy_error = _available_ddds()
    form = ProvisionForm(request.POST or None, ddds=ddds)
    if request.method == "POST" and not salvy_error and form.is_valid():
        try:
            job = provisioning_request(
                ddd=form.cleaned_data["ddd"],
                name=form.cleaned_data["name"],
                # By name: the service then checks the gateway can take a number, as for the command.
                gateway=form.cleaned_data["gateway"].name,
                requested_by=_user(request),
            )
        except ValidationError as exc:
            form.add_error(None, "; ".join(exc.messages))
        else:
            messages.success(request, f"Provisioning a number in DDD {job.ddd}.")
            return redirect("chips_admin:provisioning-progress", job_id=job.pk)
    recent = ProvisioningJob.objects.all()[:10]
    return _page(
        request,
        "admin/chips/provision.html",
        "Provision a number",
        form=form,
        salvy_error=salvy_error,
        has_gateways=provisioning_gateways().exists(),
        recent_jobs=recent,
    )


def _job_payload(job: ProvisioningJob) -> dict:
    return {
        "id": job.pk,
        "ddd": job.ddd,
        "status": job.status,
        "finished": job.status in FINISHED,
        "steps": [_step(step) for step in job.steps if isinstance(step, dict)],
        "phone": job.phone,
        "error": job.error,
        # A job that failed after recording the chip (the session step) still has a number to connect.
        "connect_url": reverse("chips_admin:connect", args=[job.chip_id]) if job.chip_id else "",
        "updated_at": _local(job.updated_at),
    }


def _step(step: dict) -> dict:
    at = step.get("at")
    moment = parse_datetime(at) if isinstance(at, str) else None
    return {
        "at": _local(moment) if moment else str(at or ""),
        "step": str(step.get("step", "")),
        "detail": str(step.get("detail", "")),
    }


def provisioning_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    _require(request, "chips.view_provisioningjob")
    job = ProvisioningJob.objects.filter(pk=job_id).first()
    if job is None:
        messages.error(request, f"There is no provisioning job with id {job_id}.")
        return redirect("chips_admin:provision")
    return _page(
        request,
        "admin/chips/provisioning_progress.html",
        f"Provisioning a number in DDD {job.ddd}",
        job=job,
        payload=_job_payload(job),
        poll_ms=POLL_MS,
    )


def provisioning_progress_json(request: HttpRequest, job_id: int) -> JsonResponse:
    _require(request, "chips.view_provisioningjob")
    job = ProvisioningJob.objects.filter(pk=job_id).first()
    if job is None:
        return JsonResponse({"error": f"there is no provisioning job with id {job_id}"}, status=404)
    return JsonResponse(_job_payload(job))


# --- connect ------------------------------------------------------------------------------------


def qr_svg(payload: str) -> str:
    """The QR as inline SVG markup. segno draws only paths, so gateway text cannot inject markup."""
    if not payload:
        return ""
    try:
        qr = segno.make(payload, error="m")
    except segno.DataOverflowError:  # not a WhatsApp QR (they are ~240 characters): show no QR, not an error
        return ""
    return qr.svg_inline(scale=6, border=4, svgclass="chip-qr", omitsize=False)


def _qr_image(session: ChipSession | None) -> str:
    # Only a picture may go into <img src>: a gateway's javascript: or http URL must not.
    image = session.qr_image if session else ""
    return image if image.startswith("data:image/") else ""


def _sms_payload(sms: SmsCode) -> dict:
    return {
        "id": sms.pk,
        "code": sms.code,
        "text": sms.text,
        "origin": sms.origin,
        "received_at": _local(sms.received_at or sms.created_at),
        "used_at": _local(sms.used_at),
    }


def _connect_payload(chip: Chip) -> dict:
    session = ChipSession.objects.filter(chip_id=chip.pk).first()
    state = session.state if session else ""
    codes = SmsCode.objects.filter(chip_id=chip.pk).order_by(F("received_at").desc(nulls_last=True), "-id")
    in_service = chip.status not in OUT_OF_SERVICE
    # A connected chip needs no code, and a banned or cancelled one cannot use it: an old code on
    # screen would invite a pointless scan. Neither would an expired QR, which WhatsApp refuses.
    offer_codes = session is not None and in_service and state != SessionState.CONNECTED
    qr_expired = offer_codes and bool(session.qr_expires_at) and session.qr_expires_at <= timezone.now()
    show_qr = offer_codes and not qr_expired
    qr = qr_svg(session.qr_code) if show_qr else ""
    image = _qr_image(session) if show_qr else ""
    pairing_code = session.pairing_code if offer_codes else ""
    return {
        "chip_id": chip.pk,
        "phone": chip.phone,
        "chip_status": chip.status,
        "can_connect": in_service,
        "state": state or "none",
        "state_hint": _state_hint(
            chip,
            state,
            qr_shown=bool(qr or image),
            pairing=bool(pairing_code),
            qr_expired=qr_expired and bool(session.qr_code or session.qr_image),
        ),
        "qr_svg": qr,
        "qr_image": image,
        "pairing_code": pairing_code,
        "qr_updated_at": _local(session.qr_updated_at) if qr or image else "",
        "qr_expires_at": _local(session.qr_expires_at) if qr or image else "",
        "session_updated_at": _local(session.updated_at) if session else "",
        "checked_at": _local(session.checked_at) if session else "",
        "detail": session.detail if session else "",
        "sms_codes": [_sms_payload(sms) for sms in codes[:SMS_CODES_SHOWN]],
    }


def _state_hint(chip: Chip, state: str, *, qr_shown: bool, pairing: bool, qr_expired: bool) -> str:
    """What the operator should do now. The code on screen decides it, not only the gateway's word:
    Evolution says "connecting" both while its QR waits to be scanned and while the phone links."""
    if chip.status in OUT_OF_SERVICE:
        return f"This chip is {chip.status}: it is out of service and cannot be linked to WhatsApp again."
    if state == SessionState.CONNECTED:
        return SESSION_HINTS[SessionState.CONNECTED]
    if qr_shown:
        return SESSION_HINTS[SessionState.QR]
    if pairing:
        return SESSION_HINTS[SessionState.PAIRING]
    if qr_expired:
        return "The QR code expired before it was scanned; ask for a new QR code."
    return SESSION_HINTS.get(state, "No gateway session yet; ask for a QR code.")


class PairingForm(forms.Form):
    pairing_phone = forms.CharField(max_length=32, required=False)

    def clean_pairing_phone(self) -> str:
        raw = self.cleaned_data["pairing_phone"].strip()
        if not raw:
            return ""
        e164 = normalize_phone(raw)
        if e164 is None:
            raise ValidationError(f"{raw!r} is not a phone number (write it with the DDD, e.g. +55 11 98765-4321).")
        return e164


def chip_connect(request: HttpRequest, chip_id: int) -> HttpResponse:
    _require(request, "chips.view_chip")
    chip = _chip(chip_id)
    if chip is None:
        return _missing_chip(request, chip_id)
    return _page(
        request,
        "admin/chips/connect.html",
        f"Connect {chip.phone}",
        chip=chip,
        payload=_connect_payload(chip),
        poll_ms=POLL_MS,
    )


def chip_connect_json(request: HttpRequest, chip_id: int) -> JsonResponse:
    _require(request, "chips.view_chip")
    chip = _chip(chip_id)
    if chip is None:
        return JsonResponse({"error": f"there is no chip with id {chip_id}"}, status=404)
    return JsonResponse(_connect_payload(chip))


@require_POST
def chip_connect_request(request: HttpRequest, chip_id: int) -> HttpResponse:
    """A new QR code, or a pairing code for the phone given, from the chip's gateway."""
    _require(request, "chips.change_chip")
    chip = _chip(chip_id)
    if chip is None:
        return _missing_chip(request, chip_id)
    form = PairingForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["pairing_phone"]))
        return redirect("chips_admin:connect", chip_id=chip.pk)
    phone = form.cleaned_data["pairing_phone"]
    try:
        chip_session_connect(chip_id=chip.pk, pairing_phone=phone, triggered_by=_user(request))
    except ValidationError as exc:
        messages.error(request, f"Not asked: {'; '.join(exc.messages)}")
    except ProviderError as exc:
        messages.error(request, f"The gateway did not give a {'pairing' if phone else 'QR'} code: {exc}")
    else:
        messages.success(request, f"Pairing code requested for {phone}." if phone else "New QR code requested.")
    return redirect("chips_admin:connect", chip_id=chip.pk)


@require_POST
def sms_code_used(request: HttpRequest, chip_id: int, sms_id: int) -> HttpResponse:
    _require(request, "chips.change_chip")
    sms = SmsCode.objects.filter(pk=sms_id, chip_id=chip_id).first()
    if sms is None:
        messages.error(request, f"Chip {chip_id} has no SMS with id {sms_id}.")
    elif sms_code_mark_used(sms_code_id=sms.pk, by=_user(request)):
        messages.success(request, f"Code {sms.code or '(none)'} marked as used.")
    else:
        messages.info(request, f"Code {sms.code or '(none)'} was already marked as used.")
    if _chip(chip_id) is None:
        return redirect("chips_admin:fleet")
    return redirect("chips_admin:connect", chip_id=chip_id)


# --- fleet --------------------------------------------------------------------------------------


@dataclass
class FleetRow:
    chip: Chip
    session_state: str
    warmup_day: int | None
    cap: int | None
    sent_today: int | None
    health: ChipHealth | None
    targets: list[tuple[str, str]]  # (form value, label)
    audit: list[ChipTransition]

    @property
    def scored(self) -> bool:
        """A banned or cancelled chip sends nothing: its past figures say nothing about its health now."""
        return self.health is not None and self.chip.status not in OUT_OF_SERVICE


@dataclass
class StatusGroup:
    status: str
    rows: list[FleetRow]


def _fleet_rows(now: datetime) -> list[FleetRow]:
    chips = list(
        Chip.objects.select_related("gateway", "session").prefetch_related(
            Prefetch("transitions", queryset=ChipTransition.objects.order_by("-created_at", "-id"))
        )
    )
    ids = [chip.pk for chip in chips]
    health = chip_health_figures(ids, now=now)
    sent_today = sends_today_by_chip([chip.pk for chip in chips if chip.status in PACED], now)
    rows = []
    for chip in chips:
        session = getattr(chip, "session", None)  # None when the gateway never reported
        paced = chip.status in PACED
        rows.append(
            FleetRow(
                chip=chip,
                session_state=session.state if session else "",
                warmup_day=warmup_day(chip, now) if paced else None,
                cap=daily_cap(chip, now) if paced else None,
                sent_today=sent_today.get(chip.pk, 0) if paced else None,
                health=health.get(chip.pk),
                targets=_targets(chip),
                audit=list(chip.transitions.all()[:AUDIT_ROWS_SHOWN]),
            )
        )
    return rows


def fleet(request: HttpRequest) -> HttpResponse:
    _require(request, "chips.view_chip")
    rows = _fleet_rows(timezone.now())
    groups = [StatusGroup(status, [row for row in rows if row.chip.status == status]) for status in ChipStatus.values]
    counts = Counter(row.chip.status for row in rows)
    alerts = ChipAlert.objects.filter(resolved_at__isnull=True).select_related("chip")[:OPEN_ALERTS_SHOWN]
    return _page(
        request,
        "admin/chips/fleet.html",
        "Fleet",
        groups=[group for group in groups if group.rows],
        counts=[(status, counts.get(status, 0)) for status in ChipStatus.values],
        total=len(rows),
        alerts=alerts,
    )


def _salvy_number(chip: Chip) -> bool:
    return bool(chip.salvy_id) and chip.salvy_status != "canceled"


def _targets(chip: Chip) -> list[tuple[str, str]]:
    """Where the lifecycle lets the chip go; cancelling a Salvy number says why it is released."""
    targets = []
    for status in sorted(ALLOWED_TRANSITIONS.get(chip.status, ()), key=ChipStatus.values.index):
        if status == ChipStatus.CANCELLED and _salvy_number(chip):
            targets += [(f"{status}:{why}", f"cancelled, released at Salvy ({why})") for why in CANCEL_REASONS]
        else:
            targets.append((status, status))
    return targets


@require_POST
def chip_transition_apply(request: HttpRequest, chip_id: int) -> HttpResponse:
    """Move a chip where the lifecycle allows, through the service that owns the move's side effects.

    A ban goes through the ban service (alert, routing stops, Salvy release when configured); the
    cancellation of a number bought from Salvy goes through `chip_cancel`, which releases it there
    (otherwise Salvy keeps billing it); every other move is a plain guarded transition.
    """
    _require(request, "chips.change_chip")
    chip = _chip(chip_id)
    if chip is None:
        return _missing_chip(request, chip_id)
    target, _, salvy_reason = request.POST.get("to_status", "").partition(":")
    reason = request.POST.get("reason", "").strip()[:255] or "changed on the fleet screen"
    if target not in ChipStatus.values:
        messages.error(request, f"{target!r} is not a chip status.")
        return redirect("chips_admin:fleet")
    triggered_by = _user(request)
    try:
        if target == ChipStatus.BANNED:
            moved = chip_ban(chip_id=chip.pk, reason=reason, triggered_by=triggered_by) is not None
        elif target == ChipStatus.CANCELLED and _salvy_number(chip):
            if not can_transition(chip.status, target):
                raise TransitionNotAllowed(chip, target)
            chip_cancel(chip_id=chip.pk, reason=salvy_reason or "unnecessary", triggered_by=triggered_by)
            moved = True
        else:
            transition = chip_transition(chip_id=chip.pk, to_status=target, reason=reason, triggered_by=triggered_by)
            moved = transition is not None
    except (TransitionNotAllowed, CancelFailed) as exc:
        messages.error(request, f"Not changed: {exc}.")
    except ValidationError as exc:
        messages.error(request, f"Not changed: {'; '.join(exc.messages)}.")
    else:
        if moved:
            messages.success(request, f"Chip {chip.phone} moved from {chip.status} to {target}.")
        else:
            messages.info(request, f"Chip {chip.phone} was already {target}.")
    return redirect(f"{reverse('chips_admin:fleet')}#chip-{chip.pk}")


@require_POST
def alert_resolve_apply(request: HttpRequest, alert_id: int) -> HttpResponse:
    _require(request, "chips.change_chipalert")
    alert = ChipAlert.objects.filter(pk=alert_id).first()
    if alert is None:
        messages.error(request, f"There is no alert with id {alert_id}.")
    elif alert.resolved_at is not None:
        messages.info(request, f"The alert “{alert.message}” was already resolved.")
    else:
        alert_resolve(alert=alert)
        messages.success(request, f"Resolved: {alert.message}")
    return redirect("chips_admin:fleet")
