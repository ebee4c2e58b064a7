import threading

import pytest
from django.db import connection

from chips.lifecycle import ALLOWED_TRANSITIONS, ChipStatus
from chips.models import Chip, ChipAlert, ChipTransition
from chips.services import TransitionNotAllowed, chip_transition
from tests.factories import ChipFactory

ALL_PAIRS = [(a, b) for a in ChipStatus.values for b in ChipStatus.values if a != b]


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS)
def test_every_lifecycle_pair(from_status, to_status):
    chip = ChipFactory(status=from_status)
    allowed = to_status in ALLOWED_TRANSITIONS[from_status]

    if allowed:
        transition = chip_transition(chip_id=chip.pk, to_status=to_status, reason="test", triggered_by="pytest")
        assert transition is not None
        assert (transition.from_status, transition.to_status) == (from_status, to_status)
        # A late duplicate caller changes nothing and writes no second audit row.
        assert chip_transition(chip_id=chip.pk, to_status=to_status, reason="again", triggered_by="pytest") is None
    else:
        with pytest.raises(TransitionNotAllowed):
            chip_transition(chip_id=chip.pk, to_status=to_status, reason="test", triggered_by="pytest")

    chip.refresh_from_db()
    assert chip.status == (to_status if allowed else from_status)
    assert ChipTransition.objects.filter(chip=chip).count() == (1 if allowed else 0)


def test_table_matches_the_design():
    expected = {
        ("provisioned", "pending"),
        ("pending", "warming"),
        ("warming", "ready"),
        ("ready", "active"),
        ("ready", "degraded"),
        ("active", "degraded"),
        ("degraded", "ready"),
        ("degraded", "cancelled"),
        ("banned", "cancelled"),
        ("provisioned", "cancelled"),
        ("pending", "cancelled"),
        ("warming", "cancelled"),
    } | {(status, "banned") for status in ChipStatus.values if status not in ("cancelled", "banned")}
    actual = {(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets}
    assert actual == expected


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_produce_one_transition():
    chip = ChipFactory(status=ChipStatus.READY)
    callers = 8
    barrier = threading.Barrier(callers)
    results, errors = [], []

    def call():
        try:
            barrier.wait()
            results.append(chip_transition(chip_id=chip.pk, to_status="active", reason="race", triggered_by="t"))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(result is not None for result in results) == 1
    assert ChipTransition.objects.filter(chip=chip, to_status="active").count() == 1
    assert Chip.objects.get(pk=chip.pk).status == "active"


@pytest.mark.django_db
def test_a_cancelled_chip_leaves_no_open_alerts_behind():
    chip = ChipFactory(status=ChipStatus.BANNED)
    ChipAlert.objects.create(chip=chip, kind="banned", message="banned", severity="critical")
    other = ChipAlert.objects.create(chip=ChipFactory(), kind="disconnected", message="other chip")

    chip_transition(chip_id=chip.pk, to_status=ChipStatus.CANCELLED, reason="released", triggered_by="test")

    assert not ChipAlert.objects.filter(chip=chip, resolved_at__isnull=True).exists()
    other.refresh_from_db()
    assert other.resolved_at is None
