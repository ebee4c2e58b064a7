"""Buying a number from Salvy and setting it up as a chip, one recorded step at a time.

Steps, each appended to `ProvisioningJob.steps` for the operator's screen:
1. stock   - Salvy still sells numbers in the DDD (Salvy asks to check before buying);
2. buy     - create the phone account (billed from now on); its id and number go on the job at once;
3. record  - the chip, `provisioned`, with its Salvy id and status;
4. session - the gateway session with our webhook (QR or pairing code), which makes the chip `pending`;
5. done    - operators are told on Slack.

No number is ever lost: one bought but not recorded is cancelled at Salvy (reason technical-issues),
and if even that fails it stays on the job and in a critical alert for a human to cancel. A session
that cannot be created keeps the chip (the number is ours; connecting can be retried) but fails the
job with the reason.
"""

from __future__ import annotations

import re
from datetime import timedelta

import structlog
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from chips.lifecycle import ChipStatus
from chips.models import (
    AlertSeverity,
    Chip,
    ChipAlert,
    ChipSession,
    ChipTransition,
    Gateway,
    ProvisioningJob,
    ProvisioningStatus,
)
from chips.notifications import notify
from chips.salvy_sync import salvy_client
from chips.services import alert_raise
from integrations.phones import brazilian_ddd, normalize_phone
from integrations.providers.registry import provider_class
from integrations.salvy import PhoneAccount, SalvyClient, SalvyError

log = structlog.get_logger(__name__)

# Brazilian DDDs are two digits, neither of them zero (11..99).
_DDD = re.compile(r"[1-9][1-9]")
ORPHAN_ALERT = "salvy_orphan"
PURCHASE_UNKNOWN_ALERT = "salvy_purchase_unknown"
SESSION_ALERT = "session_open_failed"
# Salvy's reason when we give back a number we could not use.
RELEASE_REASON = "technical-issues"
MAX_NAME_LENGTH = ProvisioningJob._meta.get_field("name").max_length
# What the steps write on the job.
# A run saves a step at least every minute or so (each Salvy or gateway call is bounded by its timeout and
# retries): a `running` job silent this long has lost its worker.
STALLED_AFTER = timedelta(minutes=10)
_JOB_FIELDS = ["steps", "status", "salvy_account_id", "phone", "chip", "error", "finished_at", "updated_at"]


class ProvisioningFailed(Exception):
    """A step failed; the message is what the operator reads on the job and in the command's output."""


def provisioning_request(
    *, ddd: str | int, name: str = "", gateway: Gateway | str | None = None, requested_by: str = ""
) -> ProvisioningJob:
    """Validate the request, create the job and queue `chips.provision` once it is committed.

    ValidationError (nothing stored) for a malformed DDD or a gateway that cannot take the number.
    """
    job = _job_create(ddd=ddd, name=name, gateway=gateway, requested_by=requested_by)
    job_id = job.pk
    transaction.on_commit(lambda: _enqueue(job_id))
    return job


def provision_now(
    *, ddd: str | int, name: str = "", gateway: Gateway | str | None = None, requested_by: str = ""
) -> ProvisioningJob:
    """The same as `provisioning_request` followed by the job's run, in this process (the command)."""
    job = _job_create(ddd=ddd, name=name, gateway=gateway, requested_by=requested_by)
    return provisioning_run(job_id=job.pk)


def provisioning_run(*, job_id: int) -> ProvisioningJob:
    """Run a queued job to its end (succeeded or failed). A job already started is left alone.

    Claiming the job first makes a redelivered task harmless: a second run would buy a second number.
    """
    claimed = ProvisioningJob.objects.filter(pk=job_id, status=ProvisioningStatus.QUEUED).update(
        status=ProvisioningStatus.RUNNING, updated_at=timezone.now()
    )
    job = ProvisioningJob.objects.select_related("gateway", "chip").get(pk=job_id)
    if not claimed:
        log.info("provisioning.not_queued", job_id=job_id, status=job.status)
        return job
    try:
        _provision(job)
    except ProvisioningFailed as exc:
        _fail(job, str(exc))
    except Exception as exc:
        # Whatever went wrong, the job must end `failed` with a reason, never stay `running`.
        log.exception("provisioning.crashed", job_id=job.pk)
        _fail(job, f"unexpected error: {exc.__class__.__name__}: {exc}")
    return job


def provisioning_recover_stalled(*, now=None) -> int:
    """Take up the jobs a lost task or a dead worker left behind (a periodic job); returns how many.

    - `queued` for STALLED_AFTER: its task never ran (lost with a broker restart). It is queued again;
      a run claims the job first, so the original, should it still arrive, does nothing.
    - `running` with no step saved for STALLED_AFTER (a whole run takes a minute or two): its worker
      died mid-run, and a redelivered task leaves a started job alone (a second run could buy a second
      number). It ends `failed`, and the number it may have bought is looked after as in any failed run:
      one recorded as a chip stays; one bought but not recorded is cancelled at Salvy, or flagged; a
      purchase whose outcome is unknown is looked for at Salvy by the job's label, else flagged.
    """
    now = now or timezone.now()
    cutoff = now - STALLED_AFTER
    taken = 0
    for job_id in ProvisioningJob.objects.filter(status=ProvisioningStatus.QUEUED, updated_at__lt=cutoff).values_list(
        "pk", flat=True
    ):
        # Dated now, so that the next round does not queue it yet again.
        if ProvisioningJob.objects.filter(pk=job_id, status=ProvisioningStatus.QUEUED).update(updated_at=now):
            log.warning("provisioning.requeued", job_id=job_id)
            _enqueue(job_id)
            taken += 1
    for job_id in ProvisioningJob.objects.filter(status=ProvisioningStatus.RUNNING, updated_at__lt=cutoff).values_list(
        "pk", flat=True
    ):
        if not ProvisioningJob.objects.filter(
            pk=job_id, status=ProvisioningStatus.RUNNING, updated_at__lt=cutoff
        ).update(updated_at=now):
            continue  # it moved meanwhile: not stalled after all
        job = ProvisioningJob.objects.select_related("gateway", "chip").get(pk=job_id)
        log.warning("provisioning.stalled", job_id=job_id)
        _fail(job, f"interrupted: its worker stopped mid-run; {_after_interruption(job)}")
        taken += 1
    return taken


def _after_interruption(job: ProvisioningJob) -> str:
    """What became of the number an interrupted run may have bought, said for the job's error."""
    if job.chip_id:
        return f"the number was recorded as chip #{job.chip_id}: open its session from the fleet screen"
    if not any(step.get("step") == "stock" for step in job.steps or []):
        return "nothing was bought; request the number again"
    label = purchase_label(job)
    try:
        client = salvy_client()
        # Bought (its id saved on the job) but not recorded; or bought, perhaps, with the answer lost.
        account = client.get(job.salvy_account_id) if job.salvy_account_id else _find_lost_purchase(job, client, label)
    except SalvyError as exc:
        account, error = None, str(exc)
    else:
        error = "no such account in Salvy's list"
    if account is not None and account.status == "canceled":
        return f"the number it bought ({account.phone_number}) is already cancelled at Salvy"
    if account is None:
        _flag(
            job,
            kind=PURCHASE_UNKNOWN_ALERT,
            message=f"provisioning job #{job.pk} stopped while buying a DDD {job.ddd} number: look for an account "
            f"named {label!r} on the Salvy dashboard and cancel it if it exists",
            details={"job_id": job.pk, "label": label, "salvy_account_id": job.salvy_account_id, "error": error},
        )
        return f"a purchase may have gone through at Salvy: check the Salvy dashboard for an account named {label!r}"
    return str(_release(job, client, account, cause=RuntimeError("the run stopped before recording it")))


def provisioning_gateway(name: str | None = None) -> Gateway:
    """The gateway a new number goes to: the named one, else the only active one that creates sessions."""
    if name:
        gateway = Gateway.objects.filter(name=name).first()
        if gateway is None:
            raise ValidationError(f"no gateway named {name!r}; add it first with add_gateway")
        if not gateway.is_active:
            raise ValidationError(f"gateway {name!r} is inactive; activate it or choose another one")
        if not takes_new_numbers(gateway):
            raise ValidationError(
                f"gateway {name!r} ({gateway.get_kind_display()}) cannot create a session for a new number "
                "by itself, so the number cannot be set up on it automatically; choose another gateway, or "
                "add the number on that gateway yourself and record it with register_chip"
            )
        return gateway
    candidates = [
        gateway for gateway in Gateway.objects.filter(is_active=True).order_by("name") if takes_new_numbers(gateway)
    ]
    if not candidates:
        raise ValidationError(
            "no active gateway can create sessions for a new number; add one with add_gateway "
            "(for example Evolution or WAHA) or name one with --gateway"
        )
    if len(candidates) > 1:
        names = ", ".join(gateway.name for gateway in candidates)
        raise ValidationError(f"several gateways can take the number ({names}); choose one with --gateway")
    return candidates[0]


def ddd_validate(ddd: str | int) -> str:
    text = str(ddd).strip()
    if isinstance(ddd, bool) or not _DDD.fullmatch(text):
        raise ValidationError(f"DDD must be a two-digit Brazilian area code such as 11, got {ddd!r}")
    return text


def takes_new_numbers(gateway: Gateway) -> bool:
    """Whether Recado can create a new number's session on this gateway by itself.

    Not where numbers are connected outside Recado (Cloud API: Meta's WhatsApp Manager), nor where
    each number is an instance made in the provider's panel with its own token (Z-API).
    """
    provider_cls = provider_class(gateway.kind)
    return provider_cls.sessions_managed and not provider_cls.requires_instance_token


def instance_name_for(phone: str) -> str:
    """The gateway's name for a new number: derived from the phone, so it is unique and readable."""
    return "recado-" + phone.lstrip("+")


# --- the steps ------------------------------------------------------------------------------------


def _job_create(*, ddd: str | int, name: str, gateway: Gateway | str | None, requested_by: str) -> ProvisioningJob:
    area_code = ddd_validate(ddd)
    name = (name or "").strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"the name is longer than {MAX_NAME_LENGTH} characters")
    # A Gateway row is checked by name like any other choice: it must be able to take the number.
    gateway = provisioning_gateway(gateway.name if isinstance(gateway, Gateway) else gateway)
    return ProvisioningJob.objects.create(
        ddd=area_code, name=name, gateway=gateway, requested_by=requested_by[:128], steps=[]
    )


def _provision(job: ProvisioningJob) -> None:
    gateway = job.gateway
    if gateway is None or not gateway.is_active:
        raise ProvisioningFailed("the gateway chosen for this job was deleted or deactivated")
    try:
        client = salvy_client()
    except SalvyError as exc:
        raise ProvisioningFailed(str(exc)) from exc
    _check_stock(job, client)
    account = _buy(job, client)
    chip = _record(job, client, account, gateway)
    session = _open_session(job, chip)
    _succeed(job, chip, session)


def _check_stock(job: ProvisioningJob, client: SalvyClient) -> None:
    try:
        codes = client.area_codes()
    except SalvyError as exc:
        raise ProvisioningFailed(f"could not check DDD {job.ddd} at Salvy: {exc}") from exc
    entry = next((code for code in codes if code.area_code == job.ddd), None)
    if entry is None:
        raise ProvisioningFailed(f"Salvy does not sell numbers for DDD {job.ddd}")
    if not entry.available:
        raise ProvisioningFailed(f"no numbers left for DDD {job.ddd}; pick another DDD")
    _step(job, "stock", f"DDD {job.ddd} has numbers available")


def _buy(job: ProvisioningJob, client: SalvyClient) -> PhoneAccount:
    label = purchase_label(job)
    try:
        account = client.create(area_code=job.ddd, name=label)
    except SalvyError as exc:
        if not exc.outcome_unknown:
            raise ProvisioningFailed(f"buying a DDD {job.ddd} number failed: {exc}") from exc
        account = _find_lost_purchase(job, client, label)
        if account is None:
            _flag(
                job,
                kind=PURCHASE_UNKNOWN_ALERT,
                message=f"buying a DDD {job.ddd} number may have gone through at Salvy ({exc}); look for an "
                f"account named {label!r} on the Salvy dashboard and cancel it if it exists",
                details={"job_id": job.pk, "label": label, "error": str(exc)},
            )
            raise ProvisioningFailed(
                f"buying a DDD {job.ddd} number got no clear answer from Salvy ({exc}); check the Salvy "
                f"dashboard for an account named {label!r}"
            ) from exc
    job.salvy_account_id = account.id
    job.phone = account.phone_number[:20]
    _step(job, "buy", f"bought {account.phone_number} (Salvy account {account.id}, {account.status})")
    return account


def purchase_label(job: ProvisioningJob) -> str:
    # A label unique to the job lets a purchase whose answer was lost be found again in the list.
    return job.name or f"recado-job-{job.pk}"


def _find_lost_purchase(job: ProvisioningJob, client: SalvyClient, label: str) -> PhoneAccount | None:
    """The account our create made although its answer was lost: by label, not yet a chip, recent."""
    try:
        accounts = client.list()
    except SalvyError:
        return None
    known = set(Chip.objects.exclude(salvy_id="").values_list("salvy_id", flat=True))
    since = job.created_at - timedelta(minutes=5)
    found = [
        account
        for account in accounts
        if account.name == label
        and account.id not in known
        and account.status != "canceled"
        and (account.created_at is None or account.created_at >= since)
    ]
    return found[0] if len(found) == 1 else None


def _record(job: ProvisioningJob, client: SalvyClient, account: PhoneAccount, gateway: Gateway) -> Chip:
    triggered_by = job.requested_by or "task:provision"
    steps_before = list(job.steps or [])
    try:
        phone = normalize_phone(account.phone_number)
        if phone is None:
            raise ValueError(f"Salvy gave an unreadable phone number {account.phone_number!r}")
        clash = Chip.objects.filter(phone=phone).first()
        if clash is not None:
            raise ValueError(f"chip #{clash.pk} already has the number {phone} ({clash.status})")
        with transaction.atomic():
            chip = Chip.objects.create(
                phone=phone,
                ddd=brazilian_ddd(phone) or job.ddd,
                gateway=gateway,
                instance_name=instance_name_for(phone),
                salvy_id=account.id,
                salvy_status=account.status,
                status=ChipStatus.PROVISIONED,
                status_changed_at=timezone.now(),
            )
            ChipSession.objects.create(chip=chip)
            ChipTransition.objects.create(
                chip=chip,
                from_status="",
                to_status=ChipStatus.PROVISIONED,
                reason=f"bought from Salvy (DDD {job.ddd}, account {account.id})",
                triggered_by=triggered_by,
            )
            job.chip = chip
            job.phone = phone
            _step(job, "record", f"recorded as chip #{chip.pk} on {gateway.name} ({chip.instance_name})")
        return chip
    except Exception as exc:
        # Any failure here (a clash, a database error, a bad value) would leave a billed number
        # nobody knows about: give it back, or flag it for a human.
        job.chip, job.steps = None, steps_before  # what the rolled-back transaction had set
        raise _release(job, client, account, cause=exc) from exc


def _release(
    job: ProvisioningJob, client: SalvyClient, account: PhoneAccount, *, cause: Exception
) -> ProvisioningFailed:
    """Give back a number that could not be recorded; returns the failure to raise, either way."""
    reason = str(cause) or cause.__class__.__name__
    log.warning("provisioning.record_failed", job_id=job.pk, salvy_account_id=account.id, error=reason)
    # Cancel first: when the database is what failed, writing about it may fail too.
    try:
        client.cancel(account.id, reason=RELEASE_REASON)
    except Exception as cancel_exc:
        _flag(
            job,
            kind=ORPHAN_ALERT,
            message=f"number {account.phone_number} (Salvy account {account.id}) was bought but could neither be "
            f"recorded nor cancelled: cancel it on the Salvy dashboard",
            details={
                "job_id": job.pk,
                "salvy_account_id": account.id,
                "phone": account.phone_number,
                "record_error": reason,
                "cancel_error": str(cancel_exc),
            },
        )
        _step(job, "cancel", f"could not cancel {account.phone_number} at Salvy: {cancel_exc}", quiet=True)
        return ProvisioningFailed(
            f"bought {account.phone_number} (Salvy account {account.id}) but could not record it ({reason}) nor "
            f"cancel it at Salvy ({cancel_exc}); it is flagged: cancel it on the Salvy dashboard"
        )
    _step(job, "cancel", f"cancelled {account.phone_number} at Salvy ({RELEASE_REASON})", quiet=True)
    return ProvisioningFailed(
        f"could not record the bought number {account.phone_number}: {reason}; it was cancelled at Salvy"
    )


def _open_session(job: ProvisioningJob, chip: Chip) -> ChipSession:
    from chips.sessions import chip_session_open

    try:
        session = chip_session_open(chip_id=chip.pk, triggered_by=job.requested_by or "task:provision")
    except Exception as exc:
        # The number is bought and recorded: keep the chip, say what failed, let connecting retry.
        log.warning("provisioning.session_failed", job_id=job.pk, chip_id=chip.pk, error=str(exc))
        alert_raise(
            chip_id=chip.pk,
            kind=SESSION_ALERT,
            severity=AlertSeverity.WARNING,
            message=f"{chip.phone} was bought and recorded, but its session on {chip.gateway.name} could not be "
            f"created: {exc}; connect it again with connect_chip",
            details={"job_id": job.pk},
        )
        raise ProvisioningFailed(
            f"{chip.phone} was bought and recorded as chip #{chip.pk}, but the gateway session could not be "
            f"created: {exc}"
        ) from exc
    chip.refresh_from_db()  # opening the session moved it on (provisioned → pending)
    _step(job, "session", f"session created on {chip.gateway.name}: {connect_hint(session)}")
    return session


def _succeed(job: ProvisioningJob, chip: Chip, session: ChipSession) -> None:
    job.status = ProvisioningStatus.SUCCEEDED
    job.finished_at = timezone.now()
    _step(job, "done", f"{chip.phone} is ready to connect")
    notify(
        "provisioned",
        f"Number {chip.phone} (DDD {job.ddd}) provisioned on {chip.gateway.name} as {chip.instance_name}: "
        f"{connect_hint(session)}",
    )
    log.info("provisioning.succeeded", job_id=job.pk, chip_id=chip.pk)


def _fail(job: ProvisioningJob, message: str) -> None:
    job.status = ProvisioningStatus.FAILED
    job.error = message[:500]
    job.finished_at = timezone.now()
    try:
        _step(job, "failed", message)
    except DatabaseError:
        log.error("provisioning.failure_not_recorded", job_id=job.pk, error=message)
        raise
    notify("provisioning_failed", f"Provisioning a DDD {job.ddd} number failed: {message}")
    log.warning("provisioning.failed", job_id=job.pk, error=message)


def connect_hint(session: ChipSession | None) -> str:
    """What the operator does next, from what the gateway gave us."""
    if session is not None and session.pairing_code:
        return f"pairing code {session.pairing_code} (WhatsApp > Linked devices > Link with phone number)"
    if session is not None and (session.qr_code or session.qr_image):
        return "a QR code is waiting: scan it on the connect screen or with connect_chip"
    return "get a QR code on the connect screen or with connect_chip"


def _step(job: ProvisioningJob, step: str, detail: str, *, quiet: bool = False) -> None:
    """Append a step and save the job; `quiet` steps swallow a database error (the failure path)."""
    job.steps = [*(job.steps or []), {"at": timezone.now().isoformat(), "step": step, "detail": detail[:500]}]
    try:
        job.save(update_fields=_JOB_FIELDS)
    except DatabaseError:
        if not quiet:
            raise
        log.error("provisioning.step_not_saved", job_id=job.pk, step=step, detail=detail)


def _flag(job: ProvisioningJob, *, kind: str, message: str, details: dict) -> None:
    """A critical alert of its own (never merged with another: each one is a number to look after)."""
    try:
        ChipAlert.objects.create(kind=kind, severity=AlertSeverity.CRITICAL, message=message[:500], details=details)
    except DatabaseError:
        # The database is down too: the log line is the last place this number is written.
        log.critical("provisioning.flag_not_saved", job_id=job.pk, alert=kind, **details)


def _enqueue(job_id: int) -> None:
    from chips.tasks import provision

    try:
        provision.apply_async(args=[job_id], retry=False)
    except Exception as exc:  # the broker is down: end the job visibly instead of leaving it queued forever
        log.error("provisioning.not_queued", job_id=job_id, error=exc.__class__.__name__)
        job = ProvisioningJob.objects.get(pk=job_id)
        if job.status == ProvisioningStatus.QUEUED:
            _fail(job, "the job could not be queued (task broker unavailable); try again")
