"""The CLI's conversation commands: `chat`, `ask --conversation`, `eval --conversations`."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from newsdesk.index import ConversationNotFound, NewsdeskError
from newsdesk.output import print_answer

if TYPE_CHECKING:
    from newsdesk.index import Conversations, Report

HISTORY = Path("~/.newsdesk_history").expanduser()
PARTS = ("first turns", "follow-ups")


def line_editing() -> None:
    """Line editing and a history file for `input()`, where readline exists."""
    try:
        import atexit
        import readline
    except ImportError:  # e.g. Windows without pyreadline
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(HISTORY)
    readline.set_history_length(1000)
    atexit.register(readline.write_history_file, HISTORY)


def chat(
    conversations: Conversations, out: Console, err: Console, conversation_id: str | None
) -> None:
    """Ask questions in one conversation until end of input (Ctrl-D); `/new` starts over."""
    if sys.stdin.isatty():
        line_editing()
        err.print(
            "Ask about the articles; follow-ups may refer to earlier answers. "
            "/new starts a new conversation, Ctrl-D leaves."
        )
    if conversation_id:
        conversations.turns(conversation_id)  # an unknown id fails now, not at the first question
    while True:
        try:
            question = input("> " if sys.stdin.isatty() else "").strip()
        except EOFError:
            break
        if not question:
            continue
        if question == "/new":
            conversation_id = None
            err.print("[dim]New conversation.[/]")
            continue
        try:
            answer = conversations.ask(question, conversation_id)
        except ConversationNotFound:
            err.print("[yellow]This conversation expired: starting a new one.[/]")
            answer = conversations.ask(question)
        except NewsdeskError as exc:
            err.print(f"[red]error:[/] {exc}", highlight=False)
            continue
        conversation_id = answer.conversation_id
        print_answer(out, answer, answer.searched)
        out.print()
    if conversation_id:
        err.print(
            f"[dim]Conversation {conversation_id}: continue it with "
            f"`newsdesk chat --conversation {conversation_id}`.[/]",
            soft_wrap=True,
            highlight=False,
        )


def eval_report(
    conversations: Conversations,
    path: Path,
    halves: tuple[str, ...],
    out: Console,
    as_json: bool,
    details: bool,
    progress: object = None,
) -> None:
    """Ask every conversation and report first turns and follow-ups of each half apart."""
    from newsdesk.index import Report, load_conversations, run_conversations

    items = load_conversations(path)
    turns = run_conversations(conversations, items, progress)  # type: ignore[arg-type]
    reports: dict[str, dict[str, Report]] = {}
    for name in halves:
        mine = [t for t in turns if name == "all" or t.outcome.half == name]
        reports[name] = {
            PARTS[0]: Report.of([t.outcome for t in mine if t.position == 0]),
            PARTS[1]: Report.of([t.outcome for t in mine if t.position > 0]),
        }
    if as_json:
        data = {
            n: {p: r.to_dict(with_outcomes=details) for p, r in parts.items()}
            for n, parts in reports.items()
        }
        if details:
            data["searched"] = {f"{t.outcome.id}#{t.position + 1}": t.searched for t in turns}  # type: ignore[assignment]
        out.print_json(json.dumps(data))
        return
    table = Table(title=f"{path.name}: {len(items)} conversations, {len(turns)} turns")
    table.add_column("")
    for name, parts in reports.items():
        for part, report in parts.items():
            table.add_column(
                f"{name} {part} ({report.questions}+{report.unanswerable})", justify="right"
            )
    rows = [
        ("hit@1", lambda r: f"{r.hit_at_1:.3f}"),
        ("hit@5", lambda r: f"{r.hit_at_5:.3f}"),
        ("answer accuracy", lambda r: f"{r.accuracy:.3f}"),
        ("false refusals", lambda r: f"{r.false_refusal:.3f}"),
        ("refusal on unanswerable", lambda r: "-" if r.refusal is None else f"{r.refusal:.3f}"),
        ("mean answer length", lambda r: f"{r.mean_answer_chars:.0f} chars"),
        ("latency p50 / p95", lambda r: f"{r.latency_p50_ms:.0f} / {r.latency_p95_ms:.0f} ms"),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(r) for parts in reports.values() for r in parts.values()))
    out.print(table)
    if details:
        for t in turns:
            o = t.outcome
            mark = "ok " if o.correct else ("ref" if not o.answered else "-- ")
            out.print(
                f"{mark} {o.half:5} rank={o.rank} {o.id}#{t.position + 1}: {o.question}\n"
                f"     searched: {t.searched}\n     {o.answer[:200]}",
                highlight=False,
            )
