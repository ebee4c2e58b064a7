"""The container stack (docker-compose.yml, Dockerfile) starts the project's real processes.

No Docker needed: the files are read as data and checked against the project itself (its
management commands, Celery app, WSGI module, settings and URLs) and against the Procfile, so
`make run` and `docker compose up` start the same processes with the same key arguments.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROCFILE = ROOT / "Procfile"

DATA_SERVICES = ("postgres", "redis")
LONG_RUNNING = ("web", "worker", "beat", "relay")
APP_SERVICES = ("migrate", *LONG_RUNNING)

# Options that only say where a process listens or keeps scratch files: they may differ between
# the Procfile (loopback, the PORT of `make run`) and the container (all interfaces, port 8000).
DEPLOYMENT_ONLY_OPTIONS = {"--host", "--port"}

# Short options spelled long, per program, so `-A config` and `--app config` compare equal.
OPTION_ALIASES = {
    "celery": {"-A": "--app", "-l": "--loglevel", "-c": "--concurrency", "-P": "--pool", "-s": "--schedule"},
}
SHELL_SEPARATORS = {"&&", "||", ";"}


# --- Reading the files ------------------------------------------------------------------------


@functools.cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service(name: str) -> dict:
    services = compose().get("services") or {}
    assert name in services, f"docker-compose.yml has no {name!r} service"
    return services[name]


@dataclass
class Command:
    program: str
    positionals: list[str] = field(default_factory=list)
    options: dict[str, str | bool] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # `env NAME=value program ...` assignments

    def option(self, name: str):
        return self.options.get(name)

    def key_options(self) -> dict:
        return {k: v for k, v in self.options.items() if k not in DEPLOYMENT_ONLY_OPTIONS}


def parse(argv: list[str]) -> Command:
    """A command line as program, positional arguments and options (`--opt value` or a flag)."""
    env = {}
    while argv and (argv[0] == "env" or re.fullmatch(r"[A-Za-z_]\w*=.*", argv[0])):
        if argv[0] != "env":
            name, _, value = argv[0].partition("=")
            env[name] = value
        argv = argv[1:]
    assert argv, "a command line with no program"
    program = Path(argv[0]).name
    if re.fullmatch(r"python(3(\.\d+)?)?", program):
        program = "python"
    aliases = OPTION_ALIASES.get(program, {})
    command = Command(program, env=env)
    i = 1
    while i < len(argv):
        token = argv[i]
        if token.startswith("-") and token != "-":
            if token.startswith("--") and "=" in token:
                name, value = token.split("=", 1)
            elif i + 1 < len(argv) and (argv[i + 1] == "-" or not argv[i + 1].startswith("-")):
                name, value = token, argv[i + 1]
                i += 1
            else:
                name, value = token, True
            command.options[aliases.get(name, name)] = value
        else:
            command.positionals.append(token)
        i += 1
    return command


def split_shell(argv: list[str]) -> list[list[str]]:
    """`sh -c "a && b"` gives [a, b]; an exec-form command gives itself."""
    if len(argv) == 3 and Path(argv[0]).name in ("sh", "bash") and argv[1] == "-c":
        lines, current = [], []
        for token in shlex.split(argv[2]):
            if token in SHELL_SEPARATORS:
                lines.append(current)
                current = []
            else:
                current.append(token)
        lines.append(current)
        return [line for line in lines if line]
    return [argv]


def commands(name: str) -> list[Command]:
    raw = service(name).get("command")
    assert raw, f"service {name!r} has no command"
    argv = shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]
    return [parse(line) for line in split_shell(argv)]


def command(name: str) -> Command:
    (only,) = commands(name)
    return only


@functools.cache
def procfile() -> dict[str, Command]:
    processes = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, cmd = line.partition(":")
            processes[name.strip()] = parse(shlex.split(cmd))
    return processes


def depends_on(name: str) -> dict[str, str]:
    deps = service(name).get("depends_on") or {}
    if isinstance(deps, list):  # the short form means "started", no condition
        return dict.fromkeys(deps, "service_started")
    return {dep: (spec or {}).get("condition", "service_started") for dep, spec in deps.items()}


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def healthcheck_argv(name: str) -> list[str]:
    check = service(name).get("healthcheck") or {}
    assert not check.get("disable"), f"{name}'s healthcheck is disabled"
    test = check.get("test")
    assert test, f"service {name!r} has no healthcheck"
    if isinstance(test, str):
        return shlex.split(test)
    kind, *rest = test
    assert kind in ("CMD", "CMD-SHELL"), f"{name}'s healthcheck test starts with {kind!r}"
    return shlex.split(rest[0]) if kind == "CMD-SHELL" else [str(part) for part in rest]


@functools.cache
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    return instructions


def instruction_args(keyword: str) -> list[str]:
    return [args for kw, args in dockerfile() if kw == keyword]


def workdir() -> str:
    workdirs = instruction_args("WORKDIR")
    assert workdirs, "the Dockerfile sets no WORKDIR"
    return workdirs[-1]


@functools.cache
def project_management_commands() -> set[str]:
    return {
        path.stem
        for path in ROOT.glob("*/management/commands/*.py")
        if not path.name.startswith("_") and ".venv" not in path.parts
    }


def base_requirements() -> set[str]:
    names = set()
    for line in (ROOT / "requirements" / "base.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[\[=<>~! ]", line, maxsplit=1)[0].lower())
    return names


# --- The services -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*DATA_SERVICES, *APP_SERVICES])
def test_the_stack_has_the_service(name):
    assert name in (compose().get("services") or {}), f"docker-compose.yml has no {name!r} service"


def test_every_app_service_runs_the_one_image_built_from_the_dockerfile():
    images = {name: service(name).get("image") for name in APP_SERVICES}
    builds = {name: service(name).get("build") for name in APP_SERVICES}
    assert len(set(images.values())) == 1 and None not in images.values(), images
    for name, build in builds.items():
        assert build, f"{name} is not built from the project"
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile_name = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (COMPOSE_FILE.parent / context).resolve() == ROOT, f"{name} builds from {context!r}"
        assert (ROOT / context / dockerfile_name).resolve() == DOCKERFILE, f"{name} uses {dockerfile_name!r}"
    assert DOCKERFILE.is_file()


def test_web_runs_granian_on_config_wsgi_on_the_published_port():
    web = command("web")
    assert web.program == "granian"
    assert web.positionals == ["config.wsgi:application"]
    assert web.option("--interface") == "wsgi"
    assert web.option("--workers") == "2"
    host, port = web.option("--host"), str(web.option("--port"))
    assert host == "0.0.0.0", "inside a container the server must listen on all interfaces"
    published = [str(mapping).rsplit(":", 1)[-1] for mapping in service("web").get("ports", [])]
    assert published == [port], f"web publishes {published}, granian listens on {port}"
    assert str(service("web")["ports"][0]).startswith("${PORT:-"), "the host port follows PORT, as in the Makefile"


def test_worker_runs_the_celery_worker():
    worker = command("worker")
    assert (worker.program, worker.option("--app"), worker.positionals) == ("celery", "config", ["worker"])
    assert worker.option("--pool") == "threads"


def test_beat_runs_celery_beat():
    beat = command("beat")
    assert (beat.program, beat.option("--app"), beat.positionals) == ("celery", "config", ["beat"])


def test_relay_runs_the_relay_command():
    relay = command("relay")
    assert (relay.program, relay.positionals) == ("python", ["manage.py", "run_relay"])


def test_migrate_migrates_then_sets_up_the_periodic_jobs():
    steps = [(c.program, c.positionals) for c in commands("migrate")]
    assert steps[0] == ("python", ["manage.py", "migrate"])
    assert commands("migrate")[0].option("--no-input") is True, "migrate must never wait for input"
    assert ("python", ["manage.py", "setup_periodic_tasks"]) in steps[1:]
    raw = service("migrate")["command"]
    if not isinstance(raw, str) and len(raw) == 3:
        assert "&&" in raw[2], "setup_periodic_tasks must not run after a failed migration"


def test_migrate_runs_once_and_is_not_restarted():
    # A restart policy of always/unless-stopped would rerun it forever, and dependants that wait
    # for service_completed_successfully might never start.
    restart = str(service("migrate").get("restart", "no"))
    assert restart == "no" or restart.startswith("on-failure"), f"migrate has restart: {restart}"


# --- Health and start order --------------------------------------------------------------------


def test_postgres_is_healthy_when_pg_isready_says_so():
    assert "pg_isready" in healthcheck_argv("postgres")


def test_redis_is_healthy_when_it_answers_ping():
    argv = healthcheck_argv("redis")
    assert argv[0] == "redis-cli" and "ping" in argv


def test_web_healthcheck_asks_a_real_health_endpoint_on_the_server_port():
    from django.urls import resolve

    from config import ops

    urls = [arg for arg in healthcheck_argv("web") if arg.startswith("http://")]
    assert urls, f"web's healthcheck requests no URL: {healthcheck_argv('web')}"
    url = urlsplit(urls[0])
    assert str(url.port) == str(command("web").option("--port"))
    assert resolve(url.path).func in (ops.readyz, ops.healthz)


@pytest.mark.parametrize("name", ["web", "worker", "beat", "relay"])
def test_healthcheck_scripts_exist_in_the_image(name):
    # Paths under the image's WORKDIR are project files: they must exist and reach the image.
    argv = healthcheck_argv(name)
    prefix = workdir().rstrip("/") + "/"
    scripts = [arg for arg in argv if arg.startswith(prefix) or arg.endswith(".py")]
    for script in scripts:
        relative = script.removeprefix(prefix)
        assert (ROOT / relative).is_file(), f"{name}'s healthcheck runs {script}, not in the project"
        top = relative.split("/", 1)[0]
        assert top not in dockerignore_entries(), f"{top} is excluded from the build by .dockerignore"


def _healthcheck_module():
    spec = importlib.util.spec_from_file_location("compose_healthcheck", ROOT / "docker" / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("allowed_hosts", "host_header"),
    [("*", ""), ("", ""), ("recado.example.com,*", "recado.example.com"), (".example.com", "example.com")],
)
def test_web_healthcheck_sends_a_host_django_allows(monkeypatch, allowed_hosts, host_header):
    # With DJANGO_ALLOWED_HOSTS narrowed, a request for Host 127.0.0.1 would get a 400.
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", allowed_hosts)
    assert _healthcheck_module()._host_header() == host_header


def test_healthcheck_script_rejects_an_unknown_check():
    assert _healthcheck_module().main(["nonsense"]) == 2


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_wait_for_healthy_stores_and_a_finished_migration(name):
    assert depends_on(name) == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "migrate": "service_completed_successfully",
    }


def test_migrate_waits_for_healthy_stores():
    deps = depends_on("migrate")
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("redis") == "service_healthy"


# --- Environment -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", APP_SERVICES)
def test_database_url_points_at_the_postgres_service(name):
    url = urlsplit(environment(name).get("DATABASE_URL", ""))
    postgres = environment("postgres")
    assert url.scheme in ("postgres", "postgresql")
    assert (url.hostname, url.port or 5432) == ("postgres", 5432)
    assert (url.username, url.password) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"])
    assert url.path.lstrip("/") == postgres["POSTGRES_DB"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_redis_url_points_at_the_redis_service(name):
    url = urlsplit(environment(name).get("REDIS_URL", ""))
    assert (url.scheme, url.hostname, url.port or 6379) == ("redis", "redis", 6379)


def shared_environment(name: str) -> dict[str, str]:
    """A service's environment less what its Procfile line sets for that process alone."""
    own = procfile()[name].env if name in procfile() else {}
    return {key: value for key, value in environment(name).items() if key not in own}


def test_every_app_service_gets_the_same_environment():
    environments = {name: shared_environment(name) for name in APP_SERVICES}
    assert all(env == environments["web"] for env in environments.values()), environments


@pytest.mark.parametrize("variable", ["DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEY"])
def test_secrets_are_required_from_the_host_not_written_in_the_file(variable):
    value = environment("web").get(variable, "")
    assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", value), f"{variable}={value!r}"


def test_allowed_hosts_default_to_any_and_can_be_overridden():
    assert environment("web").get("DJANGO_ALLOWED_HOSTS") == "${DJANGO_ALLOWED_HOSTS:-*}"


@pytest.mark.parametrize("variable", ["OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENT_MODEL"])
def test_agent_settings_pass_through_with_empty_defaults(variable):
    assert environment("web").get(variable) == f"${{{variable}:-}}"


def test_every_variable_passed_to_the_app_is_read_by_the_settings():
    settings_source = (ROOT / "config" / "settings.py").read_text()
    unread = [key for key in shared_environment("web") if f'"{key}"' not in settings_source]
    assert not unread, f"passed to the containers but never read by config/settings.py: {unread}"


# --- The commands are the project's ------------------------------------------------------------


def all_app_commands() -> list[tuple[str, Command]]:
    return [(name, cmd) for name in APP_SERVICES for cmd in commands(name)]


def test_every_manage_py_command_started_is_a_real_command():
    from django.core.management import get_commands

    django_commands = {name for name, app in get_commands().items() if app.startswith("django.")}
    started = [c.positionals[1] for _, c in all_app_commands() if c.positionals[:1] == ["manage.py"]]
    assert {"migrate", "setup_periodic_tasks", "run_relay"} <= set(started)
    for name in started:
        assert name in project_management_commands() or name in django_commands, f"no command {name!r}"
    for name in set(started) - django_commands:
        assert list(ROOT.glob(f"*/management/commands/{name}.py")), f"no module for {name!r}"


def test_every_celery_command_names_the_project_celery_app():
    from celery import Celery

    celery_commands = [(name, c) for name, c in all_app_commands() if c.program == "celery"]
    assert {name for name, _ in celery_commands} == {"worker", "beat"}
    for name, cmd in celery_commands:
        module = str(cmd.option("--app"))
        assert (ROOT / module.replace(".", "/") / "celery.py").is_file(), f"{name}: no {module}/celery.py"
        assert cmd.positionals[0] in ("worker", "beat")
    from config.celery import app

    assert isinstance(app, Celery)


def test_web_serves_the_project_wsgi_application():
    module = command("web").positionals[0].split(":", 1)[0]
    path = ROOT / (module.replace(".", "/") + ".py")
    assert path.is_file(), f"no WSGI module {module}"
    assert "application" in path.read_text()


def test_every_program_started_is_installed_by_the_image():
    programs = {c.program for _, c in all_app_commands()} - {"python"}
    assert programs == {"granian", "celery"}
    missing = programs - base_requirements()
    assert not missing, f"requirements/base.txt (what the image installs) lacks {missing}"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_compose_starts_the_same_process_as_the_procfile(name):
    assert name in procfile(), f"Procfile has no {name!r} process"
    local, container = procfile()[name], command(name)
    assert container.program == local.program
    assert container.positionals == local.positionals
    assert container.key_options() == local.key_options()
    # Variables the Procfile sets for this process alone reach the container too.
    container_env = environment(name)
    for variable, value in local.env.items():
        assert container_env.get(variable) == value, f"{name}: Procfile sets {variable}={value}"


def test_procfile_and_compose_run_the_same_set_of_processes():
    assert set(procfile()) == set(LONG_RUNNING)


# --- The image ---------------------------------------------------------------------------------------


def test_image_is_python_3_11_slim_like_the_project():
    base = instruction_args("FROM")[-1].split()[0]
    assert base == "python:3.11-slim"
    requires = re.search(r'^requires-python\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert requires and ">=3.11" in requires.group(1), "the image's Python must be the one the project requires"


def test_image_installs_the_base_requirements_before_copying_the_code():
    runs = instruction_args("RUN")
    assert any(re.search(r"pip install\b.*-r\s+requirements/base\.txt", run) for run in runs)
    copies = instruction_args("COPY")
    assert copies and "requirements/base.txt" in copies[0], "copy the requirements alone first (layer cache)"


def test_image_runs_as_a_non_root_user():
    users = instruction_args("USER")
    assert users, "the Dockerfile never switches away from root"
    user = users[-1].split(":", 1)[0]
    assert user not in ("root", "0"), f"the image runs as {users[-1]!r}"


def test_image_runs_python_unbuffered_and_without_collectstatic():
    env = " ".join(instruction_args("ENV"))
    assert re.search(r"\bPYTHONUNBUFFERED=1\b", env)
    assert not any("collectstatic" in run for run in instruction_args("RUN"))


def test_image_starts_every_process_through_the_entrypoint_script():
    (entrypoint,) = instruction_args("ENTRYPOINT")[-1:]
    argv = json.loads(entrypoint)
    scripts = [arg for arg in argv if arg.startswith(workdir().rstrip("/") + "/")]
    assert scripts, f"ENTRYPOINT {argv} runs no project script"
    assert (ROOT / scripts[0].removeprefix(workdir().rstrip("/") + "/")).is_file()


def test_entrypoint_empties_the_prometheus_directory_then_runs_the_command(tmp_path):
    # As `make run` does before honcho: samples of earlier processes must not be summed in.
    stale = tmp_path / "var" / "prometheus"
    stale.mkdir(parents=True)
    (stale / "counter_1234.db").write_bytes(b"stale")
    result = subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), "sh", "-c", 'ls -A "$PROMETHEUS_MULTIPROC_DIR"; echo ran'],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "PROMETHEUS_MULTIPROC_DIR": "var/prometheus"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran\n"
    assert stale.is_dir()


def test_image_default_command_is_the_web_process():
    cmd = instruction_args("CMD")[-1]
    argv = json.loads(cmd) if cmd.startswith("[") else shlex.split(cmd)
    default = parse(argv)
    assert (default.program, default.positionals) == ("granian", ["config.wsgi:application"])
    assert default.key_options() == command("web").key_options()


def dockerignore_entries() -> set[str]:
    return {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }


@pytest.mark.parametrize("path", [".env", ".venv", "var", ".git"])
def test_local_state_and_secrets_stay_out_of_the_image(path):
    # settings.py reads BASE_DIR/.env: baked into the image it would ship secrets with it.
    assert path in dockerignore_entries()
