"""The `newsdesk` command as a user runs it: a real subprocess, real model, temp data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsdesk.index.evaluate import half

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def run(
    args: list[str], data_dir: Path, python: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "NEWSDESK_DATA_DIR": str(data_dir), **env}
    environment.pop("NEWSDESK_CHROMA_URL", None)
    return subprocess.run(
        [sys.executable, *python, "-m", "newsdesk", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def test_first_ask_indexes_seeds_and_cites_them(tmp_path: Path) -> None:
    result = run(["ask", "Why is OpenAI adding Google's cloud?", "--json"], tmp_path / "data")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"question", "answer", "answered", "citations", "date_range"}
    assert answer["answered"] is True
    citation = answer["citations"][0]
    assert set(citation) >= {
        "n",
        "article_id",
        "title",
        "url",
        "published_at",
        "source",
        "quote",
        "score",
    }
    assert citation["article_id"] == "openai-google-cloud.txt"
    assert citation["n"] == 1 and "[1]" in answer["answer"]
    seed = (Path(__file__).parents[2] / "seeds/openai-google-cloud.txt").read_text()
    assert citation["quote"] in seed


def test_ingest_json_report_and_stats(tmp_path: Path, corpus: Path) -> None:
    data = tmp_path / "data"
    result = run(["ingest", str(corpus), "--json"], data)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {
        "added",
        "updated",
        "removed",
        "unchanged",
        "skipped",
        "chunks_added",
        "chunks_removed",
        "seconds",
    }
    assert (report["added"], len(report["skipped"])) == (6, 4)
    assert all(set(s) == {"path", "reason"} for s in report["skipped"])

    again = json.loads(run(["ingest", str(corpus), "--json"], data).stdout)
    assert (again["unchanged"], again["chunks_added"]) == (6, 0)

    stats = json.loads(run(["stats", "--json"], data).stdout)
    assert stats["articles"] == 6
    assert stats["model"] == "all-MiniLM-L6-v2"


def imported(args: list[str], data_dir: Path) -> set[str]:
    """The modules a `newsdesk` command imports (Python's -X importtime report on stderr)."""
    result = run(args, data_dir, python=("-X", "importtime"))
    assert result.returncode == 0, result.stderr
    prefix = "import time:"
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith(prefix) and not line.endswith("imported package")
    }


def test_model_loads_only_when_something_is_embedded(tmp_path: Path, corpus: Path) -> None:
    data = tmp_path / "data"
    assert "torch" in imported(["ingest", str(corpus)], data)  # embeds: loads the model
    for args in (["ingest", str(corpus)], ["stats"], ["--help"]):
        assert "torch" not in imported(args, data), args
    assert "llama_index.core" not in imported(["stats"], data)  # it reads the store alone
    bridge = corpus / "world/harbour-bridge.txt"
    bridge.write_text(bridge.read_text().replace("84 million", "91 million"))
    assert "torch" in imported(["ingest", str(corpus)], data)
    again = json.loads(run(["ingest", str(corpus), "--json"], data).stdout)
    assert (again["updated"], again["unchanged"]) == (0, 6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "the question is empty"),
        (["ingest", "/definitely/not/here"], "no such file or folder"),
        (["ask", "hi", "--top-k", "0"], "Invalid value"),
    ],
)
def test_user_errors_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(args, tmp_path / "data")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_invalid_setting_is_reported(tmp_path: Path) -> None:
    result = run(["stats"], tmp_path / "data", NEWSDESK_TOP_K="lots")
    assert result.returncode == 1
    assert "NEWSDESK_TOP_K" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_data_dir_that_is_a_file_is_reported_and_left_alone(tmp_path: Path) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("keep me")
    result = run(["stats"], afile)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "NEWSDESK_DATA_DIR" in message and "is a file; point it at a folder" in message
    assert "Traceback" not in result.stderr
    assert afile.read_text() == "keep me"


def test_chat_follows_up_and_ask_continues_its_conversation(tmp_path: Path) -> None:
    data = tmp_path / "data"
    corpus = Path(__file__).parents[1] / "fixtures" / "corpus"
    assert run(["ingest", str(corpus)], data).returncode == 0
    lines = "How much will the new harbour bridge cost?\n\nWhen is it expected to open?\n"
    chat = subprocess.run(
        [sys.executable, "-m", "newsdesk", "chat"],
        input=lines,
        capture_output=True,
        text=True,
        env={**os.environ, "NEWSDESK_DATA_DIR": str(data)},
        timeout=300,
        check=False,
    )
    assert chat.returncode == 0, chat.stderr
    assert "84 million pounds" in chat.stdout and "2027" in chat.stdout
    assert "(searched: When is it expected to open? (" in chat.stdout
    cid = chat.stderr.split("newsdesk chat --conversation ")[1].split("`")[0]

    asked = run(["ask", "Who is the transport chief?", "--conversation", cid, "--json"], data)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["conversation_id"] == cid
    gone = run(["ask", "When?", "--conversation", "nosuchconversation"], data)
    assert gone.returncode == 1 and "ask without a conversation id" in gone.stderr


def test_eval_scores_conversations_turn_by_turn(tmp_path: Path) -> None:
    data = tmp_path / "data"
    corpus = Path(__file__).parents[1] / "fixtures" / "corpus"
    assert run(["ingest", str(corpus)], data).returncode == 0
    bridge = "world/harbour-bridge.txt"
    turns = [
        {"question": "How much will the new harbour bridge cost?", "article": bridge,
         "answers": ["84 million pounds"]},
        {"question": "When is it expected to open?", "article": bridge, "answers": ["2027"]},
    ]  # fmt: skip
    path = tmp_path / "conversations.jsonl"
    path.write_text(json.dumps({"id": "c1", "turns": turns}) + "\n", encoding="utf-8")
    which = half("c1")
    result = run(["eval", "--conversations", str(path), "--half", which], data, COLUMNS="200")
    assert result.returncode == 0, result.stderr
    table = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
        for line in result.stdout.splitlines()
        if line.startswith("│")
    }
    assert table["hit@1"] == ["1.000", "1.000"]  # the first turn, the follow-up
    assert table["answer accuracy"] == ["1.000", "1.000"]
    assert all(cell.endswith(" chars") for cell in table["mean answer length"])


def test_eval_counts_refusals_per_kind_of_unanswerable_question(tmp_path: Path) -> None:
    data = tmp_path / "data"
    corpus = Path(__file__).parents[1] / "fixtures" / "corpus"
    assert run(["ingest", str(corpus)], data).returncode == 0
    answerable = tmp_path / "questions.jsonl"
    bridge = {"id": "q1", "question": "How much will the new harbour bridge cost?",
              "article": "world/harbour-bridge.txt", "answers": ["84 million pounds"]}  # fmt: skip
    answerable.write_text(json.dumps(bridge) + "\n", encoding="utf-8")
    unanswerable = tmp_path / "unanswerable.jsonl"
    asked = [
        ("u1", "Who will design the new harbour bridge?", "near-miss"),
        ("u2", "Which team won the 1966 football World Cup final?", "off-topic"),
        ("u3", "What is the capital city of Mongolia?", "off-topic"),
    ]
    unanswerable.write_text(
        "".join(json.dumps({"id": i, "question": q, "kind": k}) + "\n" for i, q, k in asked),
        encoding="utf-8",
    )
    args = ["eval", str(answerable), "--unanswerable", str(unanswerable)]
    result = run(args, data, COLUMNS="200")
    assert result.returncode == 0, result.stderr
    table = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
        for line in result.stdout.splitlines()
        if line.startswith("│")
    }
    *per_half, everything = table["refused: off-topic"]  # fit, check, all
    assert everything in ("0 of 2", "1 of 2", "2 of 2")
    assert sum(cell != "-" for cell in per_half) == len({half("u2"), half("u3")})
    assert table["refused: near-miss"][-1] in ("0 of 1", "1 of 1")
    refused = sum(int(table[f"refused: {k}"][-1][0]) for k in ("near-miss", "off-topic"))
    assert table["refusal on unanswerable"][-1] == f"{refused / 3:.3f}"


def test_help_paragraphs_flow_to_the_terminal_width() -> None:
    """Every command has a --help whose docstring paragraphs are reflowed, not broken where the
    source wraps (typer keeps single line breaks unless told to read Markdown)."""
    from typer.testing import CliRunner

    from newsdesk.cli import app

    runner = CliRunner()
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]  # type: ignore[union-attr]
    assert {"ingest", "ask", "stats", "eval", "chat", "serve", "bot"} <= set(commands)
    for command in commands:
        shown = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0 and "Usage:" in shown.output, command
    shown = runner.invoke(app, ["eval", "--help"], env={"COLUMNS": "200"}).output
    assert "Ingest the corpus the questions are about first." in shown
