"""Schemathesis fuzzes the whole OpenAPI schema of a real `newsdesk serve` (uvicorn, test
embedder), without and with the admin token: no 5xx, and every answer conforms to the schema."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_support import TOKEN, Server, serving

pytestmark = pytest.mark.e2e

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)
MAX_EXAMPLES = 25
SEED = 20250303


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("schemathesis")
    articles = root / "articles"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "corpus", articles)
    env = {
        "NEWSDESK_DATA_DIR": str(root / "data"),
        "NEWSDESK_EMBED_MODEL": "test-hash",
        "NEWSDESK_ADMIN_TOKEN": TOKEN,
        "NEWSDESK_ARTICLES_DIRS": str(articles),
        "NEWSDESK_ASK_RATE_LIMIT": "0",
    }
    with serving(root, env) as server:
        yield server


def run_schemathesis(server: Server, report: Path, *extra: str) -> dict[str, Any]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{server.url}/openapi.json",
        f"--checks={CHECKS}",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",
        "--report=json",
        f"--report-json-path={report}",
        *extra,
    ]
    result = subprocess.run(  # in a temp dir: schemathesis keeps a cache where it runs
        command, cwd=report.parent, capture_output=True, text=True, timeout=900, check=False
    )
    assert report.is_file(), result.stdout + result.stderr
    outcome: dict[str, Any] = json.loads(report.read_text())
    assert outcome["failures"] == [] and result.returncode == 0, result.stdout[-6000:]
    return outcome


def server_errors(server: Server, since: int) -> list[str]:
    """5xx lines in the server's own access log after offset `since` (independent of
    schemathesis' checks)."""
    log = server.log_text()[since:]
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [
        f"{line['method']} {line['path']} {line['status']}"
        for line in lines
        if line.get("logger") == "newsdesk.access" and int(line["status"]) >= 500
    ]


@pytest.mark.parametrize("admin", [False, True], ids=["anonymous", "admin-token"])
def test_fuzzing_the_schema_finds_no_server_error(
    server: Server, tmp_path: Path, admin: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = ["--header", f"Authorization: Bearer {TOKEN}"] if admin else []
    start = len(server.log_text())
    outcome = run_schemathesis(server, tmp_path / "report.json", *headers)
    cases = outcome["test_cases"]
    assert outcome["operations"]["tested"] == outcome["operations"]["total"] >= 10
    assert cases["generated"] >= 300 and cases["with_failures"] == 0
    assert server_errors(server, start) == []
    with capsys.disabled():
        mode = "with the admin token" if admin else "without a token"
        print(f"\nschemathesis {mode}: {cases['generated']} cases, 0 failures")
