"""Drive a real n8n (installed from npm by scripts/install-n8n.sh) from tests.

One ``N8n`` object owns one ``n8n start`` process with its own user folder, SQLite database, HTTP port and
task-runner broker port, so tests never touch another n8n on the machine. CLI commands (``import:*``,
``execute``) run against the same user folder while the server is up, each with a broker port of its own.

Facts this relies on are in ../shared/N8N.md; the ones that shaped the code are repeated where they matter.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-n8n.sh"
NODE_PACKAGE = REPO_ROOT / "n8n-nodes"  # the community node package n8n-nodes-breakeven
INSTALL_TIMEOUT_S = 45 * 60  # a cold install is ~5 minutes here; CI machines can be much slower
START_TIMEOUT_S = 120
CLI_TIMEOUT_S = 180
OWNER_EMAIL = "owner@breakeven.test"
# n8n's password rules: 8-64 characters, at least one digit and one capital letter.
OWNER_PASSWORD = "Breakeven-e2e-1"

# Variables that would make n8n reach outside the test sandbox or read someone else's configuration.
_INHERITED_PREFIXES = ("N8N_", "DB_", "GROQ_", "EXECUTIONS_", "QUEUE_", "NODE_FUNCTION_", "GENERIC_TIMEZONE")
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


class N8nError(RuntimeError):
    """n8n did something the harness did not expect; the message names the step and quotes n8n's log."""


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it, so parallel runs do not collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def n8n_home() -> Path:
    """The folder whose ``bin/`` holds ``node`` and ``n8n``, installing them on first use.

    ``BREAKEVEN_N8N_HOME`` overrides the location (the install script honours it too). A lock file keeps two
    test sessions from installing into the same folder at once.
    """
    override = os.environ.get("BREAKEVEN_N8N_HOME")
    if override and (Path(override) / ".installed").is_file():
        return Path(override)
    lock_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "breakeven"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "install-n8n.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            # stderr (npm's progress, minutes long when cold) goes to the terminal; stdout names the folder.
            done = subprocess.run(
                ["bash", str(INSTALL_SCRIPT)],
                stdout=subprocess.PIPE,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if done.returncode != 0:
        raise N8nError(f"scripts/install-n8n.sh failed ({done.returncode}); its messages are in the output above")
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise N8nError("scripts/install-n8n.sh printed no install folder")
    home = Path(lines[-1])
    if not (home / "bin" / "n8n").exists():
        raise N8nError(f"no bin/n8n under the folder the install script printed: {home}")
    return home


def install_community_package(user_folder: Path, package_dir: Path) -> str:
    """Installs a built community node package into an n8n user folder; returns the package name.

    The layout is the one n8n's own installer (Settings > Community Nodes) leaves behind, so the test sees what
    users get: the published files under ``.n8n/nodes/node_modules/<name>``, its ``package.json`` without dev and
    peer dependencies, and the package listed in ``.n8n/nodes/package.json``. Copying rather than symlinking
    matters: through a symlink Node resolves ``n8n-workflow`` from the package's own dev ``node_modules``, a second
    copy of the library that a real install never has; a copy resolves n8n's own.
    n8n finds the package by scanning ``node_modules/n8n-nodes-*`` at start, so this must run before ``n8n start``.
    """
    manifest_path = package_dir / "package.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as error:
        raise N8nError(f"cannot read the node package's manifest {manifest_path}: {error}") from error
    name = manifest.get("name")
    n8n_section = manifest.get("n8n")
    if not isinstance(name, str) or not isinstance(n8n_section, dict):
        raise N8nError(f'{manifest_path} has no package name or no "n8n" section')
    declared = [*n8n_section.get("nodes", []), *n8n_section.get("credentials", [])]
    missing = [path for path in declared if not (package_dir / path).is_file()]
    if not declared or missing:
        raise N8nError(
            f"the node package in {package_dir} is not built ({', '.join(missing) or 'no nodes declared'} missing): "
            "run make nodes"
        )

    nodes_dir = user_folder / ".n8n" / "nodes"
    target = nodes_dir / "node_modules" / name
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    published = [Path(entry) for entry in manifest.get("files", ["dist"])]
    published += [path.relative_to(package_dir) for path in package_dir.glob("README*")]
    published += [path.relative_to(package_dir) for path in package_dir.glob("LICENSE*")]
    for relative in published:
        source = package_dir / relative
        if source.is_dir():
            shutil.copytree(source, target / relative, ignore=shutil.ignore_patterns("*.tsbuildinfo"))
        elif source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    installed = {
        key: value
        for key, value in manifest.items()
        if key not in ("devDependencies", "peerDependencies", "optionalDependencies")
    }
    (target / "package.json").write_text(json.dumps(installed, indent=2))

    listing_path = nodes_dir / "package.json"
    listing: dict[str, Any] = {"name": "installed-nodes", "private": True, "dependencies": {}}
    if listing_path.is_file():
        listing = json.loads(listing_path.read_text())
    listing.setdefault("dependencies", {})[name] = manifest.get("version", "0.0.0")
    listing_path.write_text(json.dumps(listing, indent=2))
    return name


def package_log_problems(log: str, package: str) -> list[str]:
    """Lines of an n8n log naming ``package`` together with a word n8n uses for trouble ("Failed to load package",
    "Skipping package", errors and warnings)."""
    trouble = ("error", "fail", "skip", "cannot", "could not", "invalid", "warn")
    return [line for line in log.splitlines() if package in line and any(word in line.lower() for word in trouble)]


@dataclass(frozen=True)
class ExecutionResult:
    """What ``n8n execute --rawOutput`` reported for one run."""

    status: str  # n8n's own verdict ("success", "error", ...), not the exit code (which once was 139)
    run: dict[str, Any]
    returncode: int
    output: str

    @property
    def run_data(self) -> dict[str, Any]:
        return self.run.get("data", {}).get("resultData", {}).get("runData", {})

    @property
    def error(self) -> dict[str, Any] | None:
        return self.run.get("data", {}).get("resultData", {}).get("error")

    def node_items(self, node: str, run_index: int = 0, output: int = 0) -> list[dict[str, Any]]:
        """The JSON of the items ``node`` emitted on ``output`` in its ``run_index``-th run."""
        runs = self.run_data.get(node)
        if not runs:
            raise KeyError(f"node {node!r} did not run; nodes that ran: {sorted(self.run_data)}")
        main = runs[run_index].get("data", {}).get("main", [])
        if output >= len(main) or main[output] is None:
            return []
        return [item["json"] for item in main[output]]


def parse_execute_output(output: str) -> dict[str, Any]:
    """The run JSON from ``n8n execute`` output: log lines come first, the JSON starts at the first ``{`` line."""
    lines = output.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith("{"):
            text = "".join(lines[index:])
            try:
                value, _ = json.JSONDecoder().raw_decode(text)
            except ValueError as error:
                raise N8nError(f"n8n execute printed malformed JSON ({error}):\n{text[:2000]}") from error
            if not isinstance(value, dict):
                raise N8nError(f"n8n execute printed JSON that is not an object:\n{text[:2000]}")
            return value
    raise N8nError(f"n8n execute printed no run JSON:\n{output[-4000:]}")


@dataclass
class N8n:
    """One headless n8n: ``start()``, use, ``stop()`` (or use it as a context manager)."""

    home: Path
    groq_base_url: str | None = None  # GROQ_BASE_URL for the LangChain Groq node (groq-sdk reads it)
    extra_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Built community node packages (folders with package.json and dist/) installed before every start.
    community_packages: Sequence[Path] = ()
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="breakeven-n8n-")))
    port: int = field(default_factory=free_port)
    broker_port: int = field(default_factory=free_port)
    # Secrets stay out of repr(): pytest prints fixture values in failure reports.
    encryption_key: str = field(default_factory=lambda: secrets.token_hex(24), repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    _session: requests.Session = field(default_factory=requests.Session, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def user_folder(self) -> Path:
        return self.workdir / "user"

    @property
    def log_path(self) -> Path:
        return self.workdir / "n8n.log"

    def webhook_url(self, path: str) -> str:
        return f"{self.base_url}/webhook/{path.lstrip('/')}"

    def env(self, broker_port: int | None = None) -> dict[str, str]:
        """Environment for any n8n process of this instance; CLI runs pass a broker port of their own."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(_INHERITED_PREFIXES) and key not in _PROXY_VARS
        }
        env.update(
            {
                # n8n's bin is a `#!/usr/bin/env node` script: Node 24 must come first on PATH.
                "PATH": f"{self.home / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                "NO_PROXY": "127.0.0.1,localhost",
                "N8N_USER_FOLDER": str(self.user_folder),
                "N8N_ENCRYPTION_KEY": self.encryption_key,
                "N8N_PORT": str(self.port),
                "N8N_LISTEN_ADDRESS": "127.0.0.1",
                "N8N_HOST": "127.0.0.1",
                "N8N_PROTOCOL": "http",
                "N8N_WEBHOOK_URL": f"{self.base_url}/",
                "N8N_EDITOR_BASE_URL": f"{self.base_url}/",
                "N8N_RUNNERS_BROKER_PORT": str(broker_port if broker_port is not None else self.broker_port),
                "N8N_DIAGNOSTICS_ENABLED": "false",
                "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
                "N8N_TEMPLATES_ENABLED": "false",
                "N8N_PERSONALIZATION_ENABLED": "false",
                "N8N_SECURE_COOKIE": "false",
                # The module fetches a registry from n8n's servers at start and fails offline.
                "N8N_DISABLED_MODULES": "mcp-registry",
                "DB_TYPE": "sqlite",
                "N8N_LOG_OUTPUT": "console",
                # The alert receiver's Code node verifies HMAC signatures with Node's crypto module, which the
                # task runner only lends to Code nodes when this allows it (see workflows/README.md).
                "NODE_FUNCTION_ALLOW_BUILTIN": "crypto",
                "GENERIC_TIMEZONE": "UTC",
            }
        )
        if self.groq_base_url:
            env["GROQ_BASE_URL"] = self.groq_base_url
        env.update(self.extra_env)
        return env

    # --- server lifecycle ---------------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        if self.process is not None:
            raise N8nError("n8n is already running")
        self.user_folder.mkdir(parents=True, exist_ok=True)
        for package in self.community_packages:
            install_community_package(self.user_folder, Path(package))
        # Output goes to a file, never a pipe: an unread pipe fills up and a reader that stops early
        # once left n8n spinning and deaf to SIGTERM.
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.home / "bin" / "n8n"), "start"],
                env=self.env(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # /healthz answers before the database migrations finish; readiness waits for them.
        self._wait(lambda: self._get_status("/healthz/readiness") == 200, timeout, "n8n to become ready")

    def stop(self, timeout: float = 30) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        # The task runner is n8n's child; reap anything left in the process group we created.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def restart(self) -> None:
        """Stop and start again on the same ports and data (published workflows register their webhooks)."""
        self.stop()
        self.start()
        if self.api_key is None:
            return
        self._session = requests.Session()
        self.login()

    def __enter__(self) -> N8n:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def _get_status(self, path: str) -> int | None:
        try:
            return requests.get(self.base_url + path, timeout=2).status_code
        except requests.RequestException:
            return None

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise N8nError(f"n8n exited ({self.process.returncode}) while waiting for {what}:\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.25)
        raise N8nError(f"timed out after {timeout:.0f}s waiting for {what}:\n{self.log_tail()}")

    # --- CLI --------------------------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """Runs ``n8n <args>`` on this instance's data with a broker port of its own; output is captured."""
        output_path = self.workdir / f"cli-{secrets.token_hex(4)}.log"
        with open(output_path, "wb") as output:
            try:
                done = subprocess.run(
                    [str(self.home / "bin" / "n8n"), *args],
                    env=self.env(broker_port=free_port()),
                    cwd=self.workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                    start_new_session=True,
                )
            except subprocess.TimeoutExpired as error:
                raise N8nError(
                    f"n8n {args[0]} timed out after {timeout:.0f}s:\n{output_path.read_text(errors='replace')[-4000:]}"
                ) from error
        text = output_path.read_text(errors="replace")
        output_path.unlink()
        return subprocess.CompletedProcess(done.args, done.returncode, text, "")

    def import_workflows(self, paths: Iterable[Path]) -> None:
        """Imports workflow files with one ``n8n import:workflow`` (each CLI start costs seconds).

        Credentials referenced by name and ``"id": null`` get the id of the credential with that name and type,
        so import the credentials first.
        """
        workflows: list[Any] = []
        for path in paths:
            data = json.loads(Path(path).read_text())
            workflows.extend(data if isinstance(data, list) else [data])
        self.import_workflow_data(*workflows)

    def import_workflow_data(self, *workflows: Mapping[str, Any]) -> None:
        if not workflows:
            return
        path = self.workdir / f"workflows-{secrets.token_hex(4)}.json"
        path.write_text(json.dumps(list(workflows)))
        done = self.cli("import:workflow", f"--input={path}")
        path.unlink()
        if done.returncode != 0 or "Successfully imported" not in done.stdout:
            names = ", ".join(str(workflow.get("id")) for workflow in workflows)
            raise N8nError(f"import:workflow of {names} failed ({done.returncode}):\n{done.stdout[-4000:]}")

    def import_credentials(self, credentials: Sequence[Mapping[str, Any]]) -> None:
        """``n8n import:credentials`` with ``[{id, name, type, data}]``; n8n encrypts ``data`` on import.

        The file holding the plain secrets lives only as long as the command runs.
        """
        path = self.workdir / f"credentials-{secrets.token_hex(4)}.json"
        path.write_text(json.dumps(list(credentials)))
        path.chmod(0o600)
        try:
            done = self.cli("import:credentials", f"--input={path}")
        finally:
            path.unlink()
        if done.returncode != 0 or "Successfully imported" not in done.stdout:
            raise N8nError(f"import:credentials failed ({done.returncode}):\n{done.stdout[-4000:]}")

    def execute(self, workflow_id: str, timeout: float = CLI_TIMEOUT_S) -> ExecutionResult:
        """Runs a workflow from its Manual Trigger with ``n8n execute`` and returns n8n's report of the run."""
        done = self.cli("execute", f"--id={workflow_id}", "--rawOutput", timeout=timeout)
        run = parse_execute_output(done.stdout)
        return ExecutionResult(status=str(run.get("status")), run=run, returncode=done.returncode, output=done.stdout)

    def publish_cli(self, workflow_id: str) -> None:
        """``n8n publish:workflow``: marks the workflow published in the database; a running n8n only picks
        it up after a restart, so prefer ``publish()`` while the server runs."""
        done = self.cli("publish:workflow", f"--id={workflow_id}")
        if done.returncode != 0:
            raise N8nError(f"publish:workflow {workflow_id} failed ({done.returncode}):\n{done.stdout[-4000:]}")

    # --- REST and public API ----------------------------------------------------------------------------

    def setup_owner(self) -> str:
        """Creates the owner account, logs in and mints a public-API key with every scope the owner may hold."""
        response = self._session.post(
            self.base_url + "/rest/owner/setup",
            json={"email": OWNER_EMAIL, "firstName": "Breakeven", "lastName": "Tests", "password": OWNER_PASSWORD},
            timeout=30,
        )
        _expect(response, 200, "owner setup")
        self.login()
        scopes = self._session.get(self.base_url + "/rest/api-keys/scopes", timeout=30)
        _expect(scopes, 200, "listing API key scopes")
        created = self._session.post(
            self.base_url + "/rest/api-keys",
            json={"label": "breakeven-e2e", "scopes": _data(scopes), "expiresAt": None},
            timeout=30,
        )
        _expect(created, 200, "creating an API key")
        self.api_key = str(_data(created)["rawApiKey"])
        return self.api_key

    def login(self) -> None:
        response = self._session.post(
            self.base_url + "/rest/login",
            json={"emailOrLdapLoginId": OWNER_EMAIL, "password": OWNER_PASSWORD},
            timeout=30,
        )
        _expect(response, 200, "login")

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A call to the public API (``/api/v1``) with this instance's API key."""
        if self.api_key is None:
            raise N8nError("no API key yet: call setup_owner() first")
        headers = {"X-N8N-API-KEY": self.api_key, **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 30)
        return requests.request(method, f"{self.base_url}/api/v1{path}", headers=headers, **kwargs)

    def rest(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A call to the editor's REST API (``/rest``) as the logged-in owner."""
        kwargs.setdefault("timeout", 30)
        return self._session.request(method, f"{self.base_url}/rest{path}", **kwargs)

    def workflow(self, workflow_id: str) -> dict[str, Any]:
        response = self.api("GET", f"/workflows/{workflow_id}")
        _expect(response, 200, f"reading workflow {workflow_id}")
        return dict(response.json())

    def publish(self, workflow_id: str) -> dict[str, Any]:
        """Publishes (activates) a workflow in the running n8n, which validates every enabled node first
        (known type and version, required parameters, configured credentials), and registers its triggers."""
        response = self.api("POST", f"/workflows/{workflow_id}/activate")
        _expect(response, 200, f"publishing workflow {workflow_id}")
        return dict(response.json())

    def unpublish(self, workflow_id: str) -> None:
        response = self.api("POST", f"/workflows/{workflow_id}/deactivate")
        _expect(response, 200, f"unpublishing workflow {workflow_id}")

    def wait_for_webhook(self, path: str, timeout: float = 30) -> None:
        """Waits until a production POST webhook is registered: that happens shortly after publishing or start.

        A GET on a POST-only webhook has no side effects and says "not registered for GET requests" once the
        POST webhook exists (and "not registered" without that hint before).
        """

        def registered() -> bool:
            try:
                response = requests.get(self.webhook_url(path), timeout=5)
            except requests.RequestException:
                return False
            return response.status_code == 404 and "not registered for GET requests" in response.text

        self._wait(registered, timeout, f"the production webhook /webhook/{path}")

    def node_types(self) -> list[dict[str, Any]]:
        """Every node type description (all versions) this n8n knows, as its editor loads them (~18 MB)."""
        response = self._session.get(self.base_url + "/types/nodes.json", timeout=120)
        _expect(response, 200, "loading node type descriptions")
        return list(response.json())

    def credential_types(self) -> list[dict[str, Any]]:
        """Every credential type description this n8n knows, as its editor loads them."""
        response = self._session.get(self.base_url + "/types/credentials.json", timeout=60)
        _expect(response, 200, "loading credential type descriptions")
        return list(response.json())

    def package_problems(self, package: str) -> list[str]:
        """Lines of n8n's log that report trouble loading or running ``package`` (empty when all is well)."""
        return package_log_problems(self.log_path.read_text(errors="replace"), package)

    def create_credential(self, name: str, credential_type: str, data: Mapping[str, Any]) -> str:
        """Creates a credential through the public API (no CLI start) and returns its id."""
        response = self.api("POST", "/credentials", json={"name": name, "type": credential_type, "data": dict(data)})
        _expect(response, 200, f"creating credential {name!r} of type {credential_type}")
        return str(response.json()["id"])

    def delete_credential(self, credential_id: str) -> None:
        response = self.api("DELETE", f"/credentials/{credential_id}")
        _expect(response, 200, f"deleting credential {credential_id}")

    def executions(self, workflow_id: str, include_data: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"workflowId": workflow_id, "limit": limit}
        if include_data:
            params["includeData"] = "true"
        response = self.api("GET", "/executions", params=params)
        _expect(response, 200, "listing executions")
        return list(response.json()["data"])

    def wait_for_executions(
        self, workflow_id: str, count: int, timeout: float = 60, include_data: bool = False
    ) -> list[dict[str, Any]]:
        """Waits until ``count`` executions of the workflow have finished and returns them (newest first)."""
        found: list[dict[str, Any]] = []

        def finished() -> bool:
            nonlocal found
            found = [
                execution
                for execution in self.executions(workflow_id, include_data=include_data)
                if execution.get("stoppedAt")
            ]
            return len(found) >= count

        self._wait(finished, timeout, f"{count} finished executions of workflow {workflow_id}")
        return found


def _data(response: requests.Response) -> Any:
    """The editor REST API wraps payloads in ``{"data": ...}``."""
    body = response.json()
    return body["data"] if isinstance(body, dict) and "data" in body else body


def _expect(response: requests.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise N8nError(f"{what}: expected HTTP {status}, got {response.status_code}: {response.text[:2000]}")


# --- static checks against the node descriptions of the running n8n ---------------------------------------


def describe(types: Sequence[Mapping[str, Any]], node_type: str, version: float) -> Mapping[str, Any] | None:
    for description in types:
        versions = description.get("version")
        listed = versions if isinstance(versions, list) else [versions]
        if description.get("name") == node_type and version in listed:
            return description
    return None


def parameter_problems(workflow: Mapping[str, Any], types: Sequence[Mapping[str, Any]]) -> list[str]:
    """Parameters n8n would silently ignore or misread: unknown names (typos), values outside a fixed option
    list, unknown type or version. Publishing checks required parameters and credentials, not these."""
    problems: list[str] = []
    for node in workflow.get("nodes", []):
        where = f"{workflow.get('id')}/{node.get('name')}"
        description = describe(types, str(node.get("type")), node.get("typeVersion"))  # type: ignore[arg-type]
        if description is None:
            problems.append(f"{where}: n8n has no node type {node.get('type')!r} version {node.get('typeVersion')}")
            continue
        problems += _parameter_problems(node.get("parameters", {}), description.get("properties", []), where)
    return problems


def _parameter_problems(values: Mapping[str, Any], properties: Sequence[Mapping[str, Any]], where: str) -> list[str]:
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for prop in properties:
        by_name.setdefault(str(prop.get("name")), []).append(prop)
    problems: list[str] = []
    for name, value in values.items():
        candidates = by_name.get(name)
        if not candidates:
            problems.append(f"{where}: unknown parameter {name!r}")
            continue
        problems += _value_problems(value, candidates, f"{where}.{name}")
    return problems


def _value_problems(value: Any, candidates: Sequence[Mapping[str, Any]], where: str) -> list[str]:
    if isinstance(value, str) and value.startswith("="):
        return []  # an expression: only a run can check it
    kinds = {prop.get("type") for prop in candidates}
    if kinds == {"options"}:
        # Options fetched at edit time (a method, or a declarative request such as the Groq model list) are not
        # in the description: only a run can check those values.
        if any(
            (prop.get("typeOptions") or {}).get("loadOptionsMethod")
            or (prop.get("typeOptions") or {}).get("loadOptions")
            for prop in candidates
        ):
            return []
        allowed = [option.get("value") for prop in candidates for option in prop.get("options", [])]
        return [] if value in allowed else [f"{where}: {value!r} is not one of {allowed}"]
    if kinds == {"collection"} and isinstance(value, Mapping):
        return _parameter_problems(value, [opt for prop in candidates for opt in prop.get("options", [])], where)
    if kinds == {"fixedCollection"} and isinstance(value, Mapping):
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for prop in candidates:
            for group in prop.get("options", []):
                groups.setdefault(str(group.get("name")), []).extend(group.get("values", []))
        problems: list[str] = []
        for group_name, entries in value.items():
            if group_name not in groups:
                problems.append(f"{where}: unknown group {group_name!r}")
                continue
            for index, entry in enumerate(entries if isinstance(entries, list) else [entries]):
                if isinstance(entry, Mapping):
                    problems += _parameter_problems(entry, groups[group_name], f"{where}.{group_name}[{index}]")
        return problems
    return []
