"""The Docker stack (docker-compose.yml, Dockerfile, deploy/), checked without Docker.

Docker cannot run here, so each promise the files make is checked against the real thing it names: the Compose
Specification's JSON schema (shipped by the check-jsonschema package), Debian's docker-compose when installed,
the service's Settings and click CLI, the n8n version the end-to-end tests install, the Flask app's readiness
route, the local PostgreSQL for the init script, and a real n8n for the one-shot import script.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.resources
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import jsonschema
import pytest
import requests
import yaml
from sqlalchemy import create_engine, make_url, text
from standardwebhooks.webhooks import Webhook

from service import create_app
from service.cli import main as breakeven_cli
from service.config import Settings
from service.ssrf import check_url
from tests.conftest import FULL, LiveServer, make_settings, settings_env

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
IMPORT_SCRIPT = REPO / "deploy" / "n8n-import.mjs"
POSTGRES_INIT = REPO / "deploy" / "postgres-init-n8n.sh"
INSTALL_N8N = REPO / "scripts" / "install-n8n.sh"
WORKFLOWS = REPO / "workflows"
SERVICE_IMAGE = "breakeven:local"
N8N_IMAGE = "n8nio/n8n"


# --- reading the files the way Docker would -------------------------------------------------------------------


class MissingVariable(ValueError):
    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name


_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>.*))?", re.S)


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution (`${V}`, `${V:-default}`, `${V-default}`, `${V:?error}`, `${V?error}`, `$$`)."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["plain"]:
            return env.get(match["plain"], "")
        parsed = _BRACED.fullmatch(match["braced"])
        if parsed is None:
            raise ValueError(f"unsupported substitution ${{{match['braced']}}}")
        name, op, arg = parsed["name"], parsed["op"], parsed["arg"]
        current = env.get(name)
        missing = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if missing else current
        if op in (":?", "?"):
            if missing:
                raise MissingVariable(name, arg)
            return current
        return current or ""

    return _VARIABLE.sub(replace, value)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


def variables_in(node: Any) -> dict[str, set[str]]:
    """Every variable the file substitutes, with the operators it is used with ('' for a plain `${V}`)."""
    found: dict[str, set[str]] = {}
    for string in _strings(node):
        for match in _VARIABLE.finditer(string):
            if match["plain"]:
                found.setdefault(match["plain"], set()).add("")
            elif match["braced"] is not None:
                parsed = _BRACED.fullmatch(match["braced"])
                assert parsed is not None, match["braced"]
                found.setdefault(parsed["name"], set()).add(parsed["op"] or "")
    return found


def _strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)


def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def env_example() -> dict[str, str]:
    values = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f".env.example line {number} is not KEY=value: {line}"
        values[key] = value
    return values


def stack_env() -> dict[str, str]:
    """What a user's .env holds after following .env.example: each required value filled with a fresh secret,
    optional ones as shipped."""
    required = {name for name, ops in variables_in(raw_compose()).items() if ":?" in ops}
    env = {}
    for key, value in env_example().items():
        if value or key not in required:
            env[key] = value
        elif key == "BREAKEVEN_ALERT_WEBHOOK_SECRET":
            env[key] = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        else:
            env[key] = secrets.token_hex(16)
    return env


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    return interpolate_tree(raw_compose(), stack_env() if env is None else env)


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def service_image_services(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in doc["services"].items() if svc.get("image") == SERVICE_IMAGE}


def command_of(service: Mapping[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return dockerfile_exec("CMD")
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def container_port(mapping: str) -> int:
    return int(mapping.split(":")[-1].split("/")[0])


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, args = pending.strip().partition(" ")
        instructions.append((keyword.upper(), " ".join(args.split()) if keyword.upper() != "HEALTHCHECK" else args))
        pending = ""
    return instructions


def dockerfile_values(keyword: str) -> list[str]:
    return [args for name, args in dockerfile() if name == keyword]


def dockerfile_exec(keyword: str) -> list[str]:
    values = dockerfile_values(keyword)
    assert len(values) == 1, f"Dockerfile needs exactly one {keyword}, has {len(values)}"
    parsed = json.loads(values[0])
    assert isinstance(parsed, list), f"{keyword} must use the exec (JSON array) form so signals reach the process"
    return parsed


def dockerfile_healthcheck() -> list[str]:
    values = dockerfile_values("HEALTHCHECK")
    assert len(values) == 1, "the Dockerfile needs one HEALTHCHECK"
    _, _, command = values[0].partition(" CMD ")
    return json.loads(command.strip())


def healthcheck_url(command: list[str]) -> str:
    urls = re.findall(r"https?://[^'\"\s)]+", " ".join(command))
    assert len(urls) == 1, f"expected one URL in the healthcheck, found {urls}"
    return urls[0]


def parse_breakeven(args: list[str]) -> click.Command:
    """Parses a `breakeven` command line exactly as the console script would, without running it: an unknown
    command or option, or a value of the wrong type, raises click's usage error."""
    command: click.Command = breakeven_cli
    path = ["breakeven"]
    rest = list(args)
    while isinstance(command, click.Group):
        if not rest:
            raise click.UsageError(f"{' '.join(path)} needs a subcommand")
        name, *rest = rest
        sub = command.get_command(click.Context(command, info_name=path[-1]), name)
        if sub is None:
            raise click.UsageError(f"{' '.join(path)} has no command {name!r}")
        path.append(name)
        command = sub
    command.make_context(" ".join(path), rest)
    return command


def workflow(file: str) -> dict[str, Any]:
    return json.loads((WORKFLOWS / file).read_text())


def webhook_path(data: Mapping[str, Any]) -> str:
    paths = [node["parameters"]["path"] for node in data["nodes"] if node["type"] == "n8n-nodes-base.webhook"]
    assert len(paths) == 1, paths
    return paths[0]


# --- 1. the file is a valid Compose file ----------------------------------------------------------------------


def compose_schema() -> dict[str, Any]:
    # Vendored by check-jsonschema from compose-spec/compose-spec (installed from PyPI, pinned in pyproject).
    resource = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(resource.read_text())


def schema_errors(doc: Any) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(doc)]


def test_schema_is_the_compose_specification() -> None:
    schema = compose_schema()
    assert schema["title"] == "Compose Specification"
    assert {"services", "volumes", "networks"} <= set(schema["properties"])


def test_compose_file_matches_the_compose_specification() -> None:
    # Compose validates after substituting variables; the file as written must be valid too (editors check it).
    assert schema_errors(compose()) == []
    assert schema_errors(raw_compose()) == []


def test_schema_check_catches_a_misspelt_key() -> None:
    doc = compose()
    doc["services"]["breakeven-web"]["portz"] = ["8000:8000"]
    doc["services"]["n8n"]["healthcheck"]["interval"] = 10
    errors = schema_errors(doc)
    assert any("portz" in error for error in errors), errors
    assert any("healthcheck/interval" in error for error in errors), errors


@pytest.fixture
def docker_compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("Debian's docker-compose is not installed (apt-get install docker-compose)")
    return binary


def run_docker_compose(binary: str, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # Only PATH and HOME from the outside: a developer's own COMPOSE_* or secrets must not leak into the check.
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "--project-directory", str(REPO), *args],
        env=clean,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_docker_compose_accepts_the_file(docker_compose: str) -> None:
    env = stack_env()
    done = run_docker_compose(docker_compose, env, "config", "-q")
    assert done.returncode == 0, done.stderr

    resolved = yaml.safe_load(run_docker_compose(docker_compose, env, "config").stdout)
    web = resolved["services"]["breakeven-web"]
    assert web["environment"]["BREAKEVEN_API_KEYS"] == env["BREAKEVEN_API_KEYS"]
    assert resolved["services"]["n8n"]["depends_on"]["n8n-import"]["condition"] == "service_completed_successfully"


def test_docker_compose_names_a_missing_secret(docker_compose: str) -> None:
    env = stack_env()
    del env["N8N_ENCRYPTION_KEY"]
    done = run_docker_compose(docker_compose, env, "config", "-q")
    assert done.returncode != 0
    assert "set N8N_ENCRYPTION_KEY in .env" in done.stderr


# --- secrets only through variables; .env.example lists them ---------------------------------------------------

SECRETS = {
    "POSTGRES_PASSWORD",
    "N8N_DB_PASSWORD",
    "N8N_ENCRYPTION_KEY",
    "BREAKEVEN_API_KEYS",
    "BREAKEVEN_INGEST_KEYS",
    "BREAKEVEN_ALERT_WEBHOOK_SECRET",
}


def test_every_secret_is_a_required_variable_with_no_value_shipped() -> None:
    used = variables_in(raw_compose())
    required = {name for name, ops in used.items() if ":?" in ops}
    assert required == SECRETS
    example = env_example()
    assert {name: example.get(name) for name in SECRETS} == dict.fromkeys(SECRETS, "")
    for name in SECRETS:
        with pytest.raises(MissingVariable) as missing:
            compose({**stack_env(), name: ""})
        assert missing.value.name == name
        assert str(missing.value) == f"{name}: set {name} in .env (see .env.example)"


def test_no_secret_is_written_into_the_compose_file() -> None:
    secret_like = re.compile(r"PASSWORD|SECRET|_KEYS?$|TOKEN")
    for name, service in raw_compose()["services"].items():
        for key, value in environment(service).items():
            if secret_like.search(key):
                assert value.startswith("${") and value.endswith("}"), f"{name}: {key} must come from a variable"
        url = environment(service).get("BREAKEVEN_DATABASE_URL")
        if url:
            assert make_url(url).password == "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env (see .env.example)}"


def test_env_example_documents_exactly_the_variables_compose_reads() -> None:
    assert set(env_example()) == set(variables_in(raw_compose()))


def test_optional_values_in_env_example_are_the_compose_defaults() -> None:
    # Otherwise the defaults in the two files drift apart and the example stops describing the stack.
    raw_text = COMPOSE_FILE.read_text()
    for name, value in env_example().items():
        if value:
            defaults = set(re.findall(r"\$\{" + name + r":-([^}]*)\}", raw_text))
            assert defaults == {value}, f"{name}: .env.example has {value!r}, docker-compose.yml {defaults}"


# --- 2. every BREAKEVEN_* variable is a setting, with a value Settings accepts ---------------------------------


def breakeven_variables(doc: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    return {
        name: {k: v for k, v in environment(service).items() if k.startswith("BREAKEVEN_")}
        for name, service in doc["services"].items()
    }


def test_every_breakeven_variable_is_a_setting() -> None:
    fields = {f"BREAKEVEN_{name.upper()}" for name in Settings.model_fields}
    seen = set()
    for service, variables in breakeven_variables(compose()).items():
        unknown = set(variables) - fields
        assert not unknown, f"{service} sets {sorted(unknown)}, which service.config.Settings does not have"
        seen |= set(variables)
    assert {"BREAKEVEN_DATABASE_URL", "BREAKEVEN_WEBHOOK_ALLOWED_HOSTS", "BREAKEVEN_ALERT_WEBHOOK_URL"} <= seen


@pytest.mark.parametrize("service", ["breakeven-migrate", "breakeven-web", "breakeven-scheduler"])
def test_service_environment_is_accepted_by_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("BREAKEVEN_")]:
        monkeypatch.delenv(key)
    env = stack_env()
    for key, value in environment(compose(env)["services"][service]).items():
        monkeypatch.setenv(key, value)

    settings = Settings(_env_file=None)

    url = make_url(settings.database_url)
    assert (url.drivername, url.host, url.port, url.database) == ("postgresql+psycopg", "postgres", 5432, "breakeven")
    assert url.password == env["POSTGRES_PASSWORD"]
    assert [key.get_secret_value() for key in settings.api_keys] == env["BREAKEVEN_API_KEYS"].split(",")
    assert settings.check_interval == int(env["BREAKEVEN_CHECK_INTERVAL"])


def test_alerts_are_sent_to_the_n8n_receiver_on_the_private_network() -> None:
    env = stack_env()
    doc = compose(env)
    receiver = workflow("breakeven-alert-receiver.json")
    n8n_port = container_port(doc["services"]["n8n"]["ports"][0])
    for name in ("breakeven-web", "breakeven-scheduler"):
        variables = environment(doc["services"][name])
        url = urlsplit(variables["BREAKEVEN_ALERT_WEBHOOK_URL"])
        assert url.hostname in doc["services"], f"{url.hostname} is not a service of the stack"
        assert url.hostname in variables["BREAKEVEN_WEBHOOK_ALLOWED_HOSTS"].split(",")
        assert url.port == n8n_port
        assert url.path == "/webhook/" + webhook_path(receiver)
        # The real SSRF guard: without the allow-list entry it refuses the private host, with it the URL passes.
        check_url(variables["BREAKEVEN_ALERT_WEBHOOK_URL"], variables["BREAKEVEN_WEBHOOK_ALLOWED_HOSTS"].split(","))
        assert variables["BREAKEVEN_ALERT_WEBHOOK_SECRET"] == env["BREAKEVEN_ALERT_WEBHOOK_SECRET"]
    collector = urlsplit(environment(doc["services"]["breakeven-scheduler"])["BREAKEVEN_N8N_URL"])
    assert (collector.hostname, collector.port) == ("n8n", n8n_port)
    # The receiver verifies with the secret the import writes into its Config node: the same .env value.
    import_env = environment(doc["services"]["n8n-import"])
    assert import_env["WORKFLOW_CONFIG_WEBHOOK_SECRET"] == env["BREAKEVEN_ALERT_WEBHOOK_SECRET"]
    assert "breakevenAlerts" in import_env["PUBLISH_WORKFLOWS"].split(",") and receiver["id"] == "breakevenAlerts"


def test_n8n_lends_crypto_to_code_nodes_that_require_it() -> None:
    requires_crypto = [
        path.name
        for path in sorted(WORKFLOWS.glob("*.json"))
        for node in json.loads(path.read_text())["nodes"]
        if node["type"] == "n8n-nodes-base.code"
        and re.search(r"require\(\s*['\"](node:)?crypto['\"]\s*\)", node["parameters"].get("jsCode", ""))
    ]
    assert requires_crypto, "expected the alert receiver's Code node to use crypto"
    allowed = environment(compose()["services"]["n8n"]).get("NODE_FUNCTION_ALLOW_BUILTIN", "")
    assert "crypto" in allowed.split(",") or allowed == "*"


# --- 3. every breakeven command the stack runs exists, with the options it passes ------------------------------


def test_every_breakeven_command_exists_with_its_options() -> None:
    doc = compose()
    assert dockerfile_exec("ENTRYPOINT") == ["breakeven"]
    commands = {"Dockerfile CMD": dockerfile_exec("CMD")}
    for name, service in service_image_services(doc).items():
        assert service.get("entrypoint") is None, f"{name} must keep the image's `breakeven` entrypoint"
        commands[name] = command_of(service)
    assert set(commands) == {"Dockerfile CMD", "breakeven-migrate", "breakeven-web", "breakeven-scheduler"}
    for where, args in commands.items():
        try:
            parse_breakeven(args)
        except click.UsageError as error:
            pytest.fail(f"{where}: `breakeven {' '.join(args)}` is not accepted by the CLI: {error.format_message()}")


def test_command_check_catches_unknown_commands_options_and_values() -> None:
    with pytest.raises(click.UsageError, match="no command 'schedular'"):
        parse_breakeven(["schedular"])
    with pytest.raises(click.UsageError, match="--portz"):
        parse_breakeven(["web", "--portz", "8000"])
    with pytest.raises(click.BadParameter):
        parse_breakeven(["web", "--workers", "0"])
    with pytest.raises(click.UsageError, match="needs a subcommand"):
        parse_breakeven(["db"])


def test_processes_are_web_one_scheduler_and_a_one_shot_upgrade() -> None:
    services = service_image_services(compose())
    by_command = {name: parse_breakeven(command_of(svc)).name for name, svc in services.items()}
    assert sorted(by_command.values()) == ["scheduler", "upgrade", "web"]
    # `serve` embeds a scheduler: none may run next to the scheduler service.
    assert "serve" not in by_command.values()
    scheduler = services["breakeven-scheduler"]
    assert scheduler.get("deploy", {}).get("replicas", 1) == 1 and "container_name" not in scheduler

    web = services["breakeven-web"]
    web_args = parse_breakeven(command_of(web)).make_context("web", command_of(web)[1:]).params
    assert web_args["host"] == "0.0.0.0"  # inside the container; the published port stays on 127.0.0.1
    assert [container_port(mapping) for mapping in web["ports"]] == [web_args["port"]]
    assert all(mapping.startswith("127.0.0.1:") for mapping in web["ports"])


def test_dependencies_wait_for_health_or_completion() -> None:
    doc = compose()
    services = doc["services"]
    image_healthcheck = bool(dockerfile_values("HEALTHCHECK"))
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            dependency = services[target]
            if rule["condition"] == "service_healthy":
                check = dependency.get("healthcheck")
                has_check = (
                    check is not None
                    and not check.get("disable")
                    or (check is None and dependency.get("image") == SERVICE_IMAGE and image_healthcheck)
                )
                assert has_check, f"{name} waits for {target} to be healthy, but {target} has no healthcheck"
            else:
                assert rule["condition"] == "service_completed_successfully", rule
                # A one-shot that restarts never stays completed.
                assert dependency.get("restart") == "no", f'{target} is a one-shot: restart must be "no"'
    assert services["breakeven-migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("breakeven-web", "breakeven-scheduler"):
        assert services[name]["depends_on"]["breakeven-migrate"]["condition"] == "service_completed_successfully"
    assert services["n8n"]["depends_on"]["n8n-import"]["condition"] == "service_completed_successfully"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "/healthz/readiness" in " ".join(services["n8n"]["healthcheck"]["test"])


def test_data_lives_on_named_volumes_and_mounted_files_exist() -> None:
    doc = compose()
    declared = set(doc["volumes"])
    mounts = {
        name: [volume.split(":") for volume in service.get("volumes", [])] for name, service in doc["services"].items()
    }
    assert ["postgres-data", "/var/lib/postgresql/data"] in mounts["postgres"]
    assert ["n8n-data", "/home/node/.n8n"] in mounts["n8n"]
    assert ["n8n-data", "/home/node/.n8n"] in mounts["n8n-import"]
    for name, volumes in mounts.items():
        for source, *_ in volumes:
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in declared, f"{name} uses volume {source}, not declared under volumes:"


# --- 4. n8n is the version the tests install ------------------------------------------------------------------


def test_n8n_image_is_the_version_the_tests_install() -> None:
    pinned = re.search(r'N8N_VERSION="\$\{N8N_VERSION:-([^}]+)\}"', INSTALL_N8N.read_text())
    assert pinned, "scripts/install-n8n.sh no longer pins N8N_VERSION the way this test reads it"
    images = {name: svc["image"] for name, svc in compose()["services"].items() if svc["image"].startswith(N8N_IMAGE)}
    assert set(images) == {"n8n", "n8n-import"}
    assert set(images.values()) == {f"{N8N_IMAGE}:{pinned[1]}"}


# --- 5. the Dockerfile matches the service --------------------------------------------------------------------


def test_dockerfile_builds_the_project_as_a_non_root_user() -> None:
    instructions = dockerfile()
    base = dockerfile_values("FROM")
    assert base[-1] == "python:3.11-slim"  # earlier stages only build assets
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"
    users = dockerfile_values("USER")
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, (name, _) in enumerate(instructions) if name == "USER")
    assert all(i < last_user for i, (name, _) in enumerate(instructions) if name == "RUN"), "RUN after USER"
    assert any(name == "RUN" and "pip install ." in args for name, args in instructions)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    copied = [part for args in dockerfile_values("COPY") if not args.startswith("--from=")
              for part in args.split()[:-1]]
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
    assert project["readme"] in copied, "the package build reads the readme named in pyproject.toml"
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    included = [line[1:].rstrip("/") for line in ignored if line.startswith("!")]
    assert "*" in ignored
    for source in copied:
        assert any(source.rstrip("/") == kept or source.startswith(kept + "/") for kept in included), source


def test_dockerfile_port_and_healthcheck_match_the_service(tmp_path: Path) -> None:
    exposed = [int(port.split("/")[0]) for port in dockerfile_values("EXPOSE")]
    cmd = dockerfile_exec("CMD")
    params = parse_breakeven(cmd).make_context("web", cmd[1:]).params
    url = urlsplit(healthcheck_url(dockerfile_healthcheck()))
    assert exposed == [params["port"]] == [url.port]
    assert url.hostname == "127.0.0.1" and url.path == "/readyz"

    app = create_app(make_settings(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path))
    try:
        response = app.test_client().get(url.path)
    finally:
        app.extensions["breakeven"].db.dispose()
    assert response.status_code == 200 and response.get_json() == {"status": "ready"}


def test_healthcheck_command_follows_a_real_server(tmp_path: Path) -> None:
    command = dockerfile_healthcheck()
    assert command[0] == "python"
    url = healthcheck_url(command)
    server = LiveServer(settings_env(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path), tmp_path).start()
    try:
        # The image's own command, aimed at this server's port, with this interpreter standing in for python.
        local = [sys.executable, *[part.replace(url, server.url + urlsplit(url).path) for part in command[1:]]]
        assert subprocess.run(local, capture_output=True, timeout=30, check=False).returncode == 0
    finally:
        server.stop()
    assert subprocess.run(local, capture_output=True, timeout=30, check=False).returncode != 0


# --- PostgreSQL: n8n's role and database ----------------------------------------------------------------------


def scram_matches(verifier: str, password: str) -> bool:
    """Whether a PostgreSQL SCRAM-SHA-256 verifier was made from this password (RFC 5802 / 7677)."""
    method, _, rest = verifier.partition("$")
    iterations_salt, _, keys = rest.partition("$")
    iterations, _, salt = iterations_salt.partition(":")
    stored_key, _, server_key = keys.partition(":")
    assert method == "SCRAM-SHA-256", verifier[:20]
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest() == base64.b64decode(stored_key) and server == base64.b64decode(
        server_key
    )


@pytest.mark.postgres
def test_postgres_init_creates_n8ns_role_and_database(postgres_server: str) -> None:
    doc = compose()
    n8n_env = environment(doc["services"]["n8n"])
    postgres = doc["services"]["postgres"]
    assert f"./{POSTGRES_INIT.relative_to(REPO)}:/docker-entrypoint-initdb.d/10-n8n.sh:ro" in postgres["volumes"]
    postgres_env = environment(postgres)
    assert postgres_env["N8N_DB_PASSWORD"] == n8n_env["DB_POSTGRESDB_PASSWORD"]
    assert n8n_env["DB_POSTGRESDB_HOST"] == "postgres"

    url = make_url(postgres_server)
    suffix = secrets.token_hex(4)
    role, database = f"n8n_t{suffix}", f"n8n_t{suffix}"
    # Quotes and a backslash: the password must reach PostgreSQL unchanged, never as SQL.
    password = f'it\'s a "test" \\ {suffix}'
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_DB": url.database or "postgres",
        "N8N_DB_USER": role,
        "N8N_DB_NAME": database,
        "N8N_DB_PASSWORD": password,
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    engine = create_engine(postgres_server)
    try:
        done = subprocess.run(["sh", str(POSTGRES_INIT)], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = :r"), {"r": role}
            ).one()
            owner = conn.execute(
                text("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :d"), {"d": database}
            ).scalar_one()
            public_connect = conn.execute(
                text("SELECT has_database_privilege('public', :d, 'CONNECT')"), {"d": database}
            ).scalar_one()
        assert row.rolcanlogin and scram_matches(row.rolpassword, password)
        assert owner == role
        assert public_connect is False
        empty = subprocess.run(
            ["sh", str(POSTGRES_INIT)], env={**env, "N8N_DB_PASSWORD": ""}, capture_output=True, text=True
        )
        assert empty.returncode != 0 and "N8N_DB_PASSWORD is empty" in empty.stderr
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        engine.dispose()


# --- the one-shot n8n import ----------------------------------------------------------------------------------


def import_service_env(doc: Mapping[str, Any]) -> dict[str, str]:
    """The n8n-import container's environment, with its container paths mapped back to the repository."""
    service = doc["services"]["n8n-import"]
    assert service["entrypoint"] == ["node", "/deploy/n8n-import.mjs"]
    mounts = {target: source for source, target, *_ in (v.split(":") for v in service["volumes"])}
    assert mounts["/deploy/n8n-import.mjs"] == "./deploy/n8n-import.mjs"
    env = environment(service)
    env["WORKFLOWS_DIR"] = str(REPO / mounts[env["WORKFLOWS_DIR"]])
    assert env["WORKFLOWS_DIR"] == str(REPO / "./workflows")
    return env


def run_import(env: Mapping[str, str], *args: str, node: str = "node") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, str(IMPORT_SCRIPT), *args], env=dict(env), capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture
def node_binary() -> str:
    binary = shutil.which("node")
    if binary is None:
        pytest.skip("Node.js is not installed")
    return binary


def test_import_plan_covers_every_workflow_and_credential(node_binary: str) -> None:
    env = stack_env()
    doc = compose(env)
    plan_env = {"PATH": os.environ.get("PATH", ""), **import_service_env(doc)}
    done = run_import(plan_env, "--dry-run", node=node_binary)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)

    files = sorted(path.name for path in WORKFLOWS.glob("*.json"))
    assert [entry["file"] for entry in plan["workflows"]] == files
    web_port = container_port(doc["services"]["breakeven-web"]["ports"][0])
    assert plan_env["WORKFLOW_CONFIG_LEDGER_URL"] == f"http://breakeven-web:{web_port}"
    for entry in plan["workflows"]:
        fields = {
            a["name"]
            for n in workflow(entry["file"])["nodes"]
            if n["name"] == "Config"
            for a in n["parameters"]["assignments"]["assignments"]
        }
        if "ledger_url" in fields:
            assert "ledger_url" in entry["config"], f"{entry['file']} would still call Breakeven on 127.0.0.1"
    for entry in plan["workflows"]:
        types = {n["type"] for n in workflow(entry["file"])["nodes"]}
        expected = sorted({t.rsplit(".", 1)[0] for t in types} - {"n8n-nodes-base", "@n8n/n8n-nodes-langchain"})
        assert entry["packages"] == expected
    receiver = next(entry for entry in plan["workflows"] if entry["id"] == "breakevenAlerts")
    assert receiver["config"] == ["webhook_secret"]
    assert plan["publish"] == ["breakevenAlerts", "breakevenGroqChat"]
    # Keys in .env become the credentials the workflows reference by name; no secret is printed.
    assert [(c["name"], c["type"], c["referenced"]) for c in plan["credentials"]] == [
        ("Breakeven ingest key", "httpHeaderAuth", True),
        ("Breakeven API key", "httpHeaderAuth", True),
    ]
    for value in (env["BREAKEVEN_ALERT_WEBHOOK_SECRET"], env["BREAKEVEN_API_KEYS"], env["BREAKEVEN_INGEST_KEYS"]):
        assert value not in done.stdout + done.stderr

    with_groq = compose({**env, "GROQ_API_KEY": "gsk_" + secrets.token_hex(8)})
    done = run_import({"PATH": plan_env["PATH"], **import_service_env(with_groq)}, "--dry-run", node=node_binary)
    assert done.returncode == 0, done.stderr
    assert ("Groq account", "groqApi", True) in [
        (c["name"], c["type"], c["referenced"]) for c in json.loads(done.stdout)["credentials"]
    ]


def test_import_refuses_a_config_variable_that_matches_nothing(node_binary: str) -> None:
    env = {"PATH": os.environ.get("PATH", ""), **import_service_env(compose()), "WORKFLOW_CONFIG_LEDGERURL": "x"}
    done = run_import(env, "--dry-run", node=node_binary)
    assert done.returncode == 1
    assert "WORKFLOW_CONFIG_LEDGERURL matches no field of a Config node" in done.stderr
    env = {**env, "WORKFLOW_CONFIG_LEDGERURL": "", "PUBLISH_WORKFLOWS": "breakevenAlertz"}
    done = run_import(env, "--dry-run", node=node_binary)
    assert done.returncode == 1 and "PUBLISH_WORKFLOWS names breakevenAlertz" in done.stderr


@pytest.mark.e2e
@pytest.mark.slow
def test_import_sets_up_a_real_n8n_for_the_stack(tmp_path: Path) -> None:
    """The import as the stack runs it, on a real n8n: credentials from the keys, Config pointed at Breakeven,
    the receiver published with the alert secret; a second run keeps what n8n holds, --force replaces it."""
    from tests.conftest import INGEST_KEY
    from tests.e2e.n8n_harness import N8n, free_port, n8n_home
    from tests.fakes.groq import FakeGroq

    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    ledger = LiveServer(settings_env(f"sqlite:///{tmp_path / 'ledger.sqlite'}", tmp_path), tmp_path).start()
    with FakeGroq() as groq:
        n8n = N8n(home=n8n_home(), workdir=tmp_path / "n8n")
        n8n.user_folder.mkdir(parents=True)
        env = n8n.env(broker_port=free_port())
        env.update(
            {
                **{k: v for k, v in import_service_env(compose()).items() if not k.startswith(("DB_", "N8N_"))},
                "WORKFLOW_CONFIG_LEDGER_URL": ledger.url,
                "WORKFLOW_CONFIG_WEBHOOK_SECRET": secret,
                # What LLM_BASE_URL does in the stack: the chat workflow talks to the fake instead of Groq.
                "WORKFLOW_CONFIG_BASE_URL": groq.openai_base_url,
                "GROQ_API_KEY": groq.api_key,
                # Only the first key of a list becomes the credential; the ledger knows only that one.
                "BREAKEVEN_INGEST_KEYS": f"{INGEST_KEY},spare-key",
            }
        )
        try:
            first = run_import(env, node=str(n8n.home / "bin" / "node"))
            assert first.returncode == 0, first.stdout + first.stderr
            assert "published breakevenAlerts" in first.stdout and "published breakevenGroqChat" in first.stdout

            result = n8n.execute("breakevenGroqChat")
            assert result.status == "success", result.error
            answer = result.node_items("Answer")[0]
            assert answer["logged"] is True
            completion = groq.completions[-1]
            usage = requests.get(
                f"{ledger.url}/v1/usage",
                params={"workflow_id": "breakevenGroqChat", "group_by": "workflow"},
                headers=FULL,
                timeout=10,
            ).json()["totals"]
            assert (usage["prompts"], usage["prompt_tokens"], usage["completion_tokens"]) == (
                1,
                completion.prompt_tokens,
                completion.completion_tokens,
            )

            n8n.start()  # activates what the import published
            n8n.wait_for_webhook("breakeven/alerts")
            body = json.dumps({"type": "test", "timestamp": datetime.now(UTC).isoformat(), "data": {"message": "hi"}})
            accepted = post_signed(n8n.webhook_url("breakeven/alerts"), secret, body)
            assert accepted.status_code == 200, accepted.text
            assert accepted.json()["status"] == "accepted"
            tampered = post_signed(n8n.webhook_url("breakeven/alerts"), secret, body, sent=body.replace("hi", "ho"))
            assert tampered.status_code == 401
            n8n.stop()

            # A restart of the stack runs the import again: what n8n holds stays (edits in the editor survive).
            second = run_import(
                {**env, "WORKFLOW_CONFIG_LEDGER_URL": "http://elsewhere:8000"}, node=str(n8n.home / "bin" / "node")
            )
            assert second.returncode == 0, second.stdout + second.stderr
            assert "workflow breakevenGroqChat already in n8n" in second.stdout
            assert config_value(n8n, "breakevenGroqChat", "ledger_url") == ledger.url

            forced = run_import(
                {**env, "WORKFLOW_CONFIG_LEDGER_URL": "http://elsewhere:8000"},
                "--force",
                node=str(n8n.home / "bin" / "node"),
            )
            assert forced.returncode == 0, forced.stdout + forced.stderr
            assert config_value(n8n, "breakevenGroqChat", "ledger_url") == "http://elsewhere:8000"
        finally:
            n8n.stop()
            ledger.stop()


def post_signed(url: str, secret: str, body: str, sent: str | None = None) -> requests.Response:
    message_id = "msg_" + secrets.token_hex(8)
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
    }
    return requests.post(url, data=(sent if sent is not None else body).encode(), headers=headers, timeout=60)


def config_value(n8n: Any, workflow_id: str, field: str) -> Any:
    output = n8n.workdir / f"export-{secrets.token_hex(4)}.json"
    done = n8n.cli("export:workflow", f"--id={workflow_id}", f"--output={output}")
    assert done.returncode == 0, done.stdout[-3000:]
    exported = json.loads(output.read_text())
    data = exported[0] if isinstance(exported, list) else exported
    config = next(node for node in data["nodes"] if node["name"] == "Config")
    return next(a["value"] for a in config["parameters"]["assignments"]["assignments"] if a["name"] == field)
