"""Celery tasks of the fleet: thin, id-taking wrappers over the services. Names are stable (beat rows use them).

The modules behind them are imported inside each task: a task module imported by every worker
should not drag in every client at start-up.
"""

from __future__ import annotations

import random

from celery import shared_task


def _backoff(retries: int, cap: float = 300) -> float:
    """Exponential backoff with jitter: about 2, 4, 8... seconds, capped."""
    ceiling = min(cap, 2 ** (retries + 1))
    return random.uniform(ceiling / 2, ceiling)


@shared_task(name="chips.provision")
def provision(job_id: int) -> str:
    from chips.provisioning import provisioning_run

    return provisioning_run(job_id=job_id).status


@shared_task(name="chips.recover_provisioning")
def recover_provisioning() -> int:
    from chips.provisioning import provisioning_recover_stalled

    return provisioning_recover_stalled()


@shared_task(bind=True, name="chips.notify", max_retries=6)
def notify(self, text: str) -> bool:
    from chips.notifications import NotificationRetry, slack_post

    try:
        return slack_post(text=text)
    except NotificationRetry as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(bind=True, name="chips.submit_code", max_retries=5)
def submit_code(self, sms_code_id: int) -> bool:
    from chips.sms import CodeSubmitRetry, sms_code_submit

    try:
        return sms_code_submit(sms_code_id=sms_code_id)
    except CodeSubmitRetry as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(bind=True, name="chips.cancel_at_salvy", max_retries=6)
def cancel_at_salvy(self, chip_id: int, reason: str) -> bool:
    from chips.salvy_sync import SalvyRetry, chip_cancel_at_salvy

    try:
        return chip_cancel_at_salvy(chip_id=chip_id, reason=reason)
    except SalvyRetry as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(bind=True, name="chips.salvy_account_refresh", max_retries=6)
def salvy_account_refresh(self, phone_account_id: str) -> bool:
    from chips.salvy_sync import SalvyRetry
    from chips.salvy_sync import salvy_account_refresh as refresh

    try:
        return refresh(phone_account_id=phone_account_id, triggered_by="webhook:salvy")
    except SalvyRetry as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(name="chips.health_check")
def health_check() -> int:
    from chips.health import health_check_all

    return health_check_all()


@shared_task(name="chips.sync_salvy")
def sync_salvy() -> int:
    from chips.salvy_sync import salvy_sync

    return salvy_sync().changed
