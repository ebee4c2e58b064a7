from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from chips.models import Chip, ChipTransition, Gateway

pytestmark = pytest.mark.django_db

ADD = [
    "add_gateway",
    "--kind",
    "evolution",
    "--name",
    "evo-main",
    "--base-url",
    "http://evo.test:8080",
    "--api-key",
    "K3Y",
    "--webhook-secret",
    "S3CRET",
]


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_add_gateway_and_register_chip():
    assert "evo-main" in run(*ADD)
    output = run("register_chip", "--gateway", "evo-main", "--instance", "acme-01", "--phone", "+5511987654321")
    assert "+5511987654321" in output
    gateway = Gateway.objects.get(name="evo-main")
    assert (gateway.kind, gateway.base_url, gateway.api_key, gateway.webhook_secret) == (
        "evolution",
        "http://evo.test:8080",
        "K3Y",
        "S3CRET",
    )
    chip = Chip.objects.get()
    assert (chip.phone, chip.instance_name, chip.ddd, chip.status) == ("+5511987654321", "acme-01", "11", "pending")
    assert ChipTransition.objects.filter(chip=chip, from_status="", to_status="pending").count() == 1
    assert chip.session.state == "created"


def test_phone_written_loosely_is_stored_in_e164():
    run(*ADD)
    run("register_chip", "--gateway", "evo-main", "--instance", "acme-02", "--phone", "(11) 8765-4321")
    assert Chip.objects.get().phone == "+5511987654321"  # the ninth digit restored


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "evo-main"], "already exists"),
        (["--name", "bad name!"], "slug"),
        (["--base-url", "not-a-url"], "is not an http"),
        (["--webhook-secret", ""], "webhook secret is required"),
    ],
)
def test_add_gateway_refuses_bad_input_and_changes_nothing(args, message):
    run(*ADD)
    override = dict(zip(args[::2], args[1::2], strict=True))
    argv = list(ADD)
    for flag, value in override.items():
        argv[argv.index(flag) + 1] = value
    if "--name" not in override:
        argv[argv.index("--name") + 1] = "another"
    with pytest.raises(CommandError, match=message):
        run(*argv)
    assert Gateway.objects.count() == 1


def test_add_gateway_unknown_kind_exits_with_usage_error(capsys):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command(
            "add_gateway",
            "--kind",
            "carrier-pigeon",
            "--name",
            "x",
            "--base-url",
            "http://x.test",
            "--api-key",
            "k",
            "--webhook-secret",
            "s",
        )
    assert Gateway.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gateway", "nope", "--instance", "a", "--phone", "+5511987654321"], "no gateway named"),
        (["--gateway", "evo-main", "--instance", "a", "--phone", "12"], "not a valid phone"),
        (["--gateway", "evo-main", "--instance", "acme-01", "--phone", "+5511911112222"], "already has a chip"),
        (["--gateway", "evo-main", "--instance", "other", "--phone", "+5511987654321"], "already registered"),
    ],
)
def test_register_chip_refuses_bad_input_and_changes_nothing(args, message):
    run(*ADD)
    run("register_chip", "--gateway", "evo-main", "--instance", "acme-01", "--phone", "+5511987654321")
    with pytest.raises(CommandError, match=message):
        run("register_chip", *args)
    assert Chip.objects.count() == 1


def test_commands_exit_non_zero_from_the_shell(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["SQLITE_PATH"] = str(tmp_path / "db.sqlite3")

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], capture_output=True, text=True, timeout=120, env=env
        )

    assert manage("migrate", "-v0").returncode == 0
    result = manage("register_chip", "--gateway", "missing", "--instance", "x", "--phone", "+5511987654321")
    assert result.returncode == 1
    assert "no gateway named 'missing'" in result.stderr


def test_every_gateway_kind_registers_the_same_way():
    for kind, instance, extra in [
        ("waha", "default", []),
        ("zapi", "3C4B1A2F9D", ["--instance-token", "F0E1D2C3B4"]),
        ("cloudapi", "106540352242922", []),
        ("whaticket", "", []),
    ]:
        run(
            "add_gateway",
            "--kind",
            kind,
            "--name",
            f"gw-{kind}",
            "--base-url",
            "https://gw.test",
            "--api-key",
            "k",
            "--webhook-secret",
            f"s-{kind}",
            "--verify-token",
            "v",
        )
        phone = {
            "waha": "+5511911110001",
            "zapi": "+5511911110002",
            "cloudapi": "+5511911110003",
            "whaticket": "+5511911110004",
        }[kind]
        args = ["register_chip", "--gateway", f"gw-{kind}", "--phone", phone, *extra]
        if instance:
            args += ["--instance", instance]
        run(*args)
    chips = {chip.gateway.kind: chip for chip in Chip.objects.select_related("gateway")}
    assert chips["zapi"].instance_token == "F0E1D2C3B4"
    assert chips["whaticket"].instance_name == "default"
    assert chips["cloudapi"].gateway.verify_token == "v"


def test_a_zapi_chip_without_its_instance_token_is_refused():
    run(
        "add_gateway",
        "--kind",
        "zapi",
        "--name",
        "z",
        "--base-url",
        "https://api.z-api.io",
        "--api-key",
        "k",
        "--webhook-secret",
        "s",
    )
    with pytest.raises(CommandError, match="instance token"):
        run("register_chip", "--gateway", "z", "--instance", "3C4B", "--phone", "+5511911110002")
    assert Chip.objects.count() == 0


def test_instance_is_required_where_the_gateway_routes_by_it():
    run(*ADD)
    with pytest.raises(CommandError, match="--instance is required"):
        run("register_chip", "--gateway", "evo-main", "--phone", "+5511911110002")
