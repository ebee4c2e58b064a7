"""Health figures per chip, the score operators see, and the beat health check against faked gateways."""

from __future__ import annotations

import copy
from datetime import timedelta

import httpx
import pytest
import respx
from django.utils import timezone

from chips.health import chip_health_figures, health_check_all, health_score
from chips.lifecycle import ChipStatus
from chips.models import Chip, ChipAlert, ChipSession, ChipTransition
from conversations.models import Message
from tests.factories import ChipFactory, OutboundMessageFactory
from tests.payloads import load_fixture

pytestmark = pytest.mark.django_db

EVO = "http://evo-health.test:8080"
EVO_DOWN = "http://evo-down.test:8080"
RANK = {"sent": 20, "failed": 25, "delivered": 30, "read": 40, "played": 50}


def sent(chip, status="sent", *, ago=timedelta(hours=1), **kwargs):
    """An outbound message that left through the gateway `ago`, now at `status`."""
    return OutboundMessageFactory(
        chip=chip,
        conversation__chip=chip,
        status=status,
        status_rank=RANK[status],
        sent_at=timezone.now() - ago,
        **kwargs,
    )


def reply(chip, *, ago=timedelta(hours=1)):
    message = Message.objects.create(
        chip=chip, direction="in", origin="contact", provider="evolution", status="processed", text="Oi"
    )
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - ago)
    return message


def window(health, suffix: str) -> tuple[int, ...]:
    return tuple(getattr(health, f"{name}_{suffix}") for name in ("sent", "delivered", "read", "failed", "replies"))


# --- figures ----------------------------------------------------------------------------------------


def test_figures_count_what_left_the_number_and_what_became_of_it():
    chip = ChipFactory()
    sent(chip, "sent")
    sent(chip, "delivered")
    sent(chip, "read")
    sent(chip, "played")
    sent(chip, "failed")  # accepted by the gateway, then failed by WhatsApp
    sent(chip, "delivered", ago=timedelta(days=3))
    sent(chip, "failed", ago=timedelta(days=6))
    sent(chip, "delivered", ago=timedelta(days=8))  # older than a week
    # Never left the number: refused by the send gate, waiting, or in flight.
    OutboundMessageFactory(chip=chip, conversation__chip=chip, status="failed", status_rank=25, error="lead opted out")
    OutboundMessageFactory(chip=chip, conversation__chip=chip, status="pending")
    reply(chip)
    reply(chip, ago=timedelta(days=2))
    reply(chip, ago=timedelta(days=9))
    Message.objects.create(chip=chip, direction="out", origin="phone", provider="evolution", status="sent")
    quiet = ChipFactory()

    figures = chip_health_figures([chip.pk, quiet.pk])

    # (sent, delivered, read, failed, replies)
    assert window(figures[chip.pk], "24h") == (5, 3, 2, 1, 1)
    assert window(figures[chip.pk], "7d") == (7, 4, 2, 2, 2)
    assert figures[quiet.pk].sent_7d == 0 and figures[quiet.pk].replies_7d == 0


def test_figures_for_many_chips_take_one_query(django_assert_num_queries):
    chips = [ChipFactory() for _ in range(6)]
    for chip in chips:
        sent(chip, "delivered")
        reply(chip)
    with django_assert_num_queries(1):
        figures = chip_health_figures([chip.pk for chip in chips])
    assert all(figures[chip.pk].sent_24h == 1 and figures[chip.pk].replies_24h == 1 for chip in chips)


def test_a_chip_with_too_little_traffic_gets_a_neutral_score_not_a_bad_one():
    chip = ChipFactory()
    for _ in range(5):
        sent(chip, "failed")
    health = chip_health_figures([chip.pk])[chip.pk]
    assert (health.score, health.label, health.enough_traffic) == (60, "fair", False)


@pytest.mark.parametrize(
    ("figures", "label"),
    [
        ({"sent": 40, "delivered": 38, "read": 20, "failed": 0, "replies": 12}, "good"),
        ({"sent": 40, "delivered": 36, "read": 10, "failed": 1, "replies": 4}, "good"),
        ({"sent": 40, "delivered": 36, "read": 10, "failed": 1, "replies": 0}, "fair"),  # nobody ever answers
        ({"sent": 40, "delivered": 20, "read": 5, "failed": 4, "replies": 2}, "fair"),
        ({"sent": 40, "delivered": 10, "read": 2, "failed": 24, "replies": 1}, "poor"),
        # A gateway that never reports delivery: neither punished nor praised for it.
        ({"sent": 40, "delivered": 0, "read": 0, "failed": 0, "replies": 0}, "fair"),
    ],
)
def test_the_score_weighs_delivery_failures_and_replies(figures, label):
    score, got_label, enough = health_score(**figures)
    assert got_label == label and enough and 0 <= score <= 100


# --- the beat health check ------------------------------------------------------------------------------


def evo_open(instance: str) -> tuple[dict, list]:
    state = copy.deepcopy(load_fixture("evolution/response.session__connection_state_open_v2_3_7.json"))
    state["instance"]["instanceName"] = instance
    record = copy.deepcopy(load_fixture("evolution/response.session__fetch_instances_open_v2_3_7.json"))
    record[0]["name"] = instance
    return state, record


@pytest.fixture
def gateways():
    """Two fake Evolution servers: one answers every instance as connected (but those in
    `gateways.unknown`, which it does not know), the other is down."""
    unknown: set[str] = set()

    def state(request, instance):
        if instance in unknown:
            refusal = {"message": [f'The "{instance}" instance does not exist']}
            return httpx.Response(404, json={"status": 404, "error": "Not Found", "response": refusal})
        return httpx.Response(200, json=evo_open(instance)[0])

    def record(request):
        return httpx.Response(200, json=evo_open(request.url.params["instanceName"])[1])

    with respx.mock(assert_all_called=False) as router:
        router.get(url__regex=rf"^{EVO}/instance/connectionState/(?P<instance>[^/]+)$", name="state").mock(
            side_effect=state
        )
        router.get(f"{EVO}/instance/fetchInstances", name="record").mock(side_effect=record)
        router.get(url__startswith=EVO_DOWN, name="down").mock(side_effect=httpx.ConnectError("connection refused"))
        router.unknown = unknown
        yield router


def evo_chip(**kwargs) -> Chip:
    return ChipFactory(gateway__base_url=EVO, **kwargs)


def test_a_warmed_connected_healthy_chip_becomes_ready(gateways):
    warmed = evo_chip(status=ChipStatus.WARMING, warmup_started_at=timezone.now() - timedelta(days=15))
    young = evo_chip(status=ChipStatus.WARMING, warmup_started_at=timezone.now() - timedelta(days=3))

    assert health_check_all() == 2

    assert Chip.objects.get(pk=warmed.pk).status == ChipStatus.READY
    transition = ChipTransition.objects.get(chip=warmed, to_status=ChipStatus.READY)
    assert transition.triggered_by == "task:health_check" and "warm-up complete" in transition.reason
    assert Chip.objects.get(pk=young.pk).status == ChipStatus.WARMING
    assert ChipSession.objects.get(chip=warmed).checked_at is not None


def test_a_warmed_chip_with_poor_health_keeps_warming(gateways):
    chip = evo_chip(status=ChipStatus.WARMING, warmup_started_at=timezone.now() - timedelta(days=15))
    for _ in range(15):
        sent(chip, "failed", ago=timedelta(days=2))
    for _ in range(10):
        sent(chip, "sent", ago=timedelta(days=2))

    health_check_all()

    assert Chip.objects.get(pk=chip.pk).status == ChipStatus.WARMING


def test_collapsing_delivery_degrades_an_active_chip_with_an_alert(gateways):
    collapsing = evo_chip(status=ChipStatus.ACTIVE)
    for _ in range(6):
        sent(collapsing, "failed")
    for _ in range(6):
        sent(collapsing, "delivered")
    fine = evo_chip(status=ChipStatus.ACTIVE)
    for _ in range(12):
        sent(fine, "delivered")

    health_check_all()

    assert Chip.objects.get(pk=collapsing.pk).status == ChipStatus.DEGRADED
    alert = ChipAlert.objects.get(chip=collapsing, kind="delivery_collapse", resolved_at__isnull=True)
    assert alert.severity == "critical" and "6 of 12" in alert.message
    assert Chip.objects.get(pk=fine.pk).status == ChipStatus.ACTIVE

    health_check_all()  # the same collapse read again: nothing new
    assert ChipTransition.objects.filter(chip=collapsing, to_status=ChipStatus.DEGRADED).count() == 1
    assert Chip.objects.get(pk=collapsing.pk).status == ChipStatus.DEGRADED  # a reconnect read does not undo it


def test_an_unreachable_gateway_raises_one_alert_and_the_others_are_still_checked(gateways):
    down_gateway = ChipFactory(gateway__base_url=EVO_DOWN, status=ChipStatus.ACTIVE).gateway
    ChipFactory(gateway=down_gateway, status=ChipStatus.READY)
    up = evo_chip(status=ChipStatus.ACTIVE)

    assert health_check_all() == 1

    assert gateways["down"].call_count == 1  # its other chip was left for the next round
    alerts = ChipAlert.objects.filter(resolved_at__isnull=True, kind__startswith="gateway_unreachable")
    assert [(alert.chip_id, alert.severity) for alert in alerts] == [(None, "critical")]
    assert down_gateway.name in alerts[0].message and "cannot connect" in alerts[0].message
    assert Chip.objects.get(pk=up.pk).session.checked_at is not None

    health_check_all()
    assert ChipAlert.objects.filter(kind__startswith="gateway_unreachable").count() == 1  # refreshed, not repeated

    down_gateway.base_url = EVO
    down_gateway.save(update_fields=["base_url"])
    assert health_check_all() == 3
    assert not ChipAlert.objects.filter(resolved_at__isnull=True, kind__startswith="gateway_unreachable").exists()


def test_chips_on_gateways_that_cannot_tell_their_state_are_judged_on_health_alone(gateways):
    relay = ChipFactory(
        status=ChipStatus.WARMING,
        warmup_started_at=timezone.now() - timedelta(days=20),
        gateway__kind="whaticket",
        gateway__base_url="http://whaticket.test",
        instance_name="1",
    )
    banned = evo_chip(status=ChipStatus.BANNED)

    assert health_check_all() == 1

    assert not any("whaticket.test" in str(call.request.url) for call in gateways.calls)
    assert not gateways["state"].called  # the banned chip is not asked about
    assert Chip.objects.get(pk=relay.pk).status == ChipStatus.READY
    assert Chip.objects.get(pk=banned.pk).status == ChipStatus.BANNED


def test_cloud_api_numbers_are_read_from_meta_and_a_banned_one_is_banned(gateways):
    graph = "https://graph.facebook.com/v23.0"
    warmed = ChipFactory(
        status=ChipStatus.WARMING,
        warmup_started_at=timezone.now() - timedelta(days=20),
        gateway__kind="cloudapi",
        gateway__base_url=graph,
        instance_name="106540352242922",
    )
    flagged_by_meta = ChipFactory(status=ChipStatus.ACTIVE, gateway=warmed.gateway, instance_name="106540352242923")
    connected = load_fixture("cloudapi/response.session__phone_number_connected_docs.json")
    gateways.get(f"{graph}/106540352242922").respond(200, json=connected)
    gateways.get(f"{graph}/106540352242923").respond(
        200, json=load_fixture("cloudapi/response.session__phone_number_banned.json")
    )

    assert health_check_all() == 2

    assert Chip.objects.get(pk=warmed.pk).status == ChipStatus.READY
    assert Chip.objects.get(pk=flagged_by_meta.pk).status == ChipStatus.BANNED
    assert ChipAlert.objects.get(chip=flagged_by_meta, kind="banned").severity == "critical"


def test_a_chip_its_gateway_does_not_know_gets_its_own_alert_and_the_rest_are_checked(gateways):
    gone = evo_chip(status=ChipStatus.ACTIVE, instance_name="gone-01")
    gateways.unknown.add("gone-01")
    sibling = ChipFactory(gateway=gone.gateway, status=ChipStatus.ACTIVE)

    assert health_check_all() == 1

    alert = ChipAlert.objects.get(chip=gone, kind="session_check_failed", resolved_at__isnull=True)
    assert "does not exist" in alert.message
    assert ChipSession.objects.get(chip=sibling).checked_at is not None
    assert not ChipAlert.objects.filter(kind__startswith="gateway_unreachable").exists()
    assert Chip.objects.get(pk=gone.pk).status == ChipStatus.ACTIVE

    gateways.unknown.clear()  # the instance is back: the alert goes away
    assert health_check_all() == 2
    assert not ChipAlert.objects.filter(kind="session_check_failed", resolved_at__isnull=True).exists()
