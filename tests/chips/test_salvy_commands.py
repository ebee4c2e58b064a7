"""provision_chip, cancel_chip and sync_salvy: what the operator reads, and the exit code."""

from __future__ import annotations

from io import StringIO

import httpx
import pytest
from django.core.management import CommandError, ManagementUtility, base, call_command

from chips.models import Chip, ProvisioningJob
from tests.chips import salvy_fakes
from tests.chips.salvy_fakes import (
    ACCOUNT_ID,
    EVOLUTION_URL,
    PHONE,
    SALVY_ROOT,
    account,
    evolution_created,
    evolution_done,
    route_area_codes,
    route_cancel,
    route_list,
    salvy_error,
)
from tests.factories import ChipFactory, GatewayFactory

pytestmark = pytest.mark.django_db
http, salvy = salvy_fakes.http, salvy_fakes.salvy

INSTANCE = "recado-5511987654321"


@pytest.fixture
def gateway():
    return GatewayFactory(name="evo-main", base_url=EVOLUTION_URL)


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def cli(capsys, monkeypatch):
    """Runs a command as `manage.py` does: returns the exit code and what the operator sees.

    `run_from_argv` closes every database connection when it ends; the test's connection must survive.
    """
    monkeypatch.setattr(base.connections, "close_all", lambda: None)
    return lambda *argv: run_cli(*argv, capsys=capsys)


def run_cli(*argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", *argv]).execute()
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def route_purchase(router, available=None):
    route_area_codes(router, available=available)
    router.post(f"{SALVY_ROOT}/virtual-phone-accounts").mock(
        return_value=httpx.Response(200, json=account(phoneNumber=PHONE, status="pending"))
    )
    return router.post(f"{EVOLUTION_URL}/instance/create").mock(return_value=evolution_created(INSTANCE))


# --- provision_chip ----------------------------------------------------------------------------------


def test_provision_chip_prints_the_number_the_chip_and_what_to_do_next(salvy, gateway):
    route_purchase(salvy)
    output = run("provision_chip", "--ddd", "11", "--name", "vendas-01")
    chip = Chip.objects.get()
    assert f"Chip #{chip.pk} {PHONE} provisioned on evo-main as '{INSTANCE}' (pending)" in output
    assert "Next: get a QR code on the connect screen or with connect_chip" in output
    assert "  buy: bought +5511987654321" in output
    assert ProvisioningJob.objects.get().name == "vendas-01"


def test_provision_chip_exits_0_on_success(salvy, gateway, cli):
    route_purchase(salvy)
    code, out, err = cli("provision_chip", "--ddd", "11", "--gateway", "evo-main")
    assert code == 0 and "Error" not in err
    assert f"{PHONE} provisioned on evo-main" in out


def test_provision_chip_defaults_to_the_configured_ddd(salvy, gateway, settings):
    settings.SALVY_DEFAULT_DDD = "21"  # read when the command builds its arguments
    session = route_purchase(salvy, available={11: False, 21: True})
    run("provision_chip")
    assert ProvisioningJob.objects.get().ddd == "21"
    assert session.call_count == 1


def test_provision_chip_out_of_stock_exits_1_with_the_reason(salvy, gateway, cli):
    route_area_codes(salvy)
    code, out, err = cli("provision_chip", "--ddd", "21")
    assert code == 1
    assert "CommandError: provisioning failed: no numbers left for DDD 21; pick another DDD" in err
    assert "  failed: no numbers left for DDD 21" in out  # the job's steps come first
    assert not Chip.objects.exists()
    assert ProvisioningJob.objects.get().status == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ddd", "1x"], "DDD must be a two-digit Brazilian area code such as 11, got '1x'"),
        (["--ddd", "11", "--gateway", "nope"], "no gateway named 'nope'; add it first with add_gateway"),
    ],
)
def test_provision_chip_refuses_bad_arguments_and_stores_nothing(salvy, gateway, args, message):
    with pytest.raises(CommandError, match=message):
        run("provision_chip", *args)
    assert not ProvisioningJob.objects.exists()
    assert not salvy.calls


def test_provision_chip_without_a_usable_gateway_says_how_to_fix_it(salvy):
    with pytest.raises(CommandError, match="no active gateway can create sessions"):
        run("provision_chip", "--ddd", "11")


# --- cancel_chip -------------------------------------------------------------------------------------


@pytest.fixture
def chip(gateway):
    return ChipFactory(gateway=gateway, phone=PHONE, salvy_id=ACCOUNT_ID, salvy_status="active", status="warming")


def route_session_end(router, chip):
    router.delete(f"{EVOLUTION_URL}/instance/logout/{chip.instance_name}").mock(
        return_value=evolution_done("Instance logged out")
    )
    router.delete(f"{EVOLUTION_URL}/instance/delete/{chip.instance_name}").mock(
        return_value=evolution_done("Instance deleted")
    )


@pytest.mark.parametrize("given", ["phone", "loose phone", "id"])
def test_cancel_chip_by_phone_or_id(salvy, chip, given):
    cancel = route_cancel(salvy)
    route_session_end(salvy, chip)
    value = {"phone": PHONE, "loose phone": "(11) 98765-4321", "id": str(chip.pk)}[given]
    output = run("cancel_chip", value, "--reason", "unnecessary")
    assert f"Chip #{chip.pk} {PHONE} cancelled: released at Salvy (canceled)" in output
    assert cancel.calls.last.request.url.params["reason"] == "unnecessary"
    assert Chip.objects.get().status == "cancelled"


def test_cancel_chip_exits_1_when_salvy_refuses(salvy, chip, cli):
    route_cancel(salvy, response=salvy_error(403, "forbidden", "Operation not allowed"))
    code, _, err = cli("cancel_chip", PHONE, "--reason", "whatsapp-ban")
    assert code == 1
    assert f"CommandError: Salvy did not cancel {PHONE}" in err
    assert Chip.objects.get().status == "warming"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["+5511900000000", "--reason", "unnecessary"], "no chip '\\+5511900000000'"),
        (["987", "--reason", "unnecessary"], "no chip '987'"),
        (["banana", "--reason", "unnecessary"], "'banana' is neither a chip id nor a phone number"),
        ([PHONE, "--reason", "because"], "invalid choice: 'because'"),
        ([PHONE], "the following arguments are required: --reason"),
    ],
)
def test_cancel_chip_refuses_bad_arguments(salvy, chip, args, message):
    with pytest.raises(CommandError, match=message):
        run("cancel_chip", *args)
    assert Chip.objects.get().status == "warming"
    assert not salvy.calls


def test_cancel_chip_twice_says_it_is_already_cancelled(salvy, chip):
    route_cancel(salvy)
    route_session_end(salvy, chip)
    run("cancel_chip", PHONE, "--reason", "unnecessary")
    with pytest.raises(CommandError, match=f"chip \\{PHONE} is already cancelled"):
        run("cancel_chip", PHONE, "--reason", "unnecessary")


# --- sync_salvy --------------------------------------------------------------------------------------


def test_sync_salvy_reports_what_changed(salvy, chip):
    route_list(salvy, [account(status="blocked")])
    salvy.get(f"{SALVY_ROOT}/virtual-phone-accounts/{ACCOUNT_ID}/sms-messages").mock(
        return_value=httpx.Response(200, json={"smsMessages": [], "pagination": {"page": 1, "pageSize": 50}})
    )
    output = run("sync_salvy")
    assert "Checked 1 chip(s) at Salvy: 1 changed, 0 SMS recovered" in output
    assert Chip.objects.get().status == "banned"


def test_sync_salvy_exits_1_when_salvy_fails(salvy, chip, cli):
    salvy.get(f"{SALVY_ROOT}/virtual-phone-accounts").mock(return_value=salvy_error(401, "unauthorized"))
    code, _, err = cli("sync_salvy")
    assert code == 1
    assert "could not list the numbers at Salvy: Salvy rejected the API token (SALVY_API_TOKEN)" in err
    assert "CommandError: Checked 0 chip(s) at Salvy: 0 changed, 0 SMS recovered; 1 problem(s), listed above" in err


def test_sync_salvy_without_a_token_says_so(salvy, chip, settings):
    settings.SALVY_API_TOKEN = ""
    err = StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("sync_salvy", stdout=StringIO(), stderr=err)
    assert "Salvy is not configured: set SALVY_API_TOKEN" in err.getvalue()


def test_every_command_has_help(cli):
    for name in ("provision_chip", "cancel_chip", "sync_salvy"):
        code, out, _ = cli(name, "--help")
        assert code == 0 and "usage:" in out
