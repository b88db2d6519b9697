"""The `newsdesk` command: ingest articles, ask questions, show stats (and serve the API)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from newsdesk.index import NewsdeskError, Settings
from newsdesk.output import print_answer

if TYPE_CHECKING:
    from newsdesk.index import Engine

app = typer.Typer(
    help="Newsdesk: ask questions about news articles and get answers with verbatim citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # docstring paragraphs reflow to the terminal's width
)
out = Console()
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ConversationOption = Annotated[
    str | None,
    typer.Option("--conversation", help="Continue this conversation (an id from the API or chat)."),
]


def open_engine(settings: Settings, with_model: bool = False) -> Engine:
    """Open the engine with a spinner on a terminal. The embedding model loads when something
    is first embedded, or now `with_model`."""
    from newsdesk.index import Engine

    label = "Loading the embedding model and index…" if with_model else "Opening the index…"
    with err.status(label, spinner="dots"):
        engine = Engine.open(settings)
        if with_model:
            engine.warm_up()
        return engine


def read_stats(settings: Settings) -> dict[str, Any]:
    """The index's figures, read without the engine (nor LlamaIndex), with a spinner on a
    terminal."""
    from newsdesk.index import read_stats

    with err.status("Opening the index…", spinner="dots"):
        return read_stats(settings)


@contextmanager
def progress_bar(enabled: bool, label: str = "Embedding") -> Iterator[object]:
    """A rich progress bar reporting articles/s and ETA, or nothing when not on a terminal."""
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task("sync", total=None, rate="-")

    def update(done: int, total: int) -> None:
        elapsed = bar.tasks[0].elapsed or 0.0
        rate = f"{done / elapsed:.1f}" if elapsed > 0 and done else "-"
        bar.update(task, completed=done, total=total or None, rate=rate)

    with bar:
        yield update


@app.command()
def ingest(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Folders, files or .jsonl files of articles, or http(s) URLs of RSS/Atom feeds "
            "and article pages. A folder or file is a source the index mirrors: new articles "
            "are added, changed ones re-embedded, vanished ones removed. A feed is a window: "
            "new and changed entries are added, entries that left it are kept.",
            metavar="SOURCE...",
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Sync article sources (folders, files, feeds, pages) into the index, embedding only what
    changed."""
    from newsdesk.index import is_url, writer_lock

    settings = Settings()
    urls = [s for s in sources if is_url(s)]
    paths = [Path(s) for s in sources if not is_url(s)]
    for path in paths:
        if not path.exists():
            raise NewsdeskError(f"no such file or folder: {path}")
    with writer_lock(settings.data_dir):  # refuse at once, before opening another's store
        pass
    engine = open_engine(settings)
    with progress_bar(sys.stderr.isatty() and not as_json) as update:
        report = engine.sync(paths, update)  # type: ignore[arg-type]
    if urls:
        report.merge(engine.sync_urls(urls))
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    out.print(
        f"[green]{report.added} added[/], {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped "
        f"({report.chunks_added} chunks added, {report.chunks_removed} removed) "
        f"in {report.seconds:.1f}s"
    )
    for item in report.skipped[:20]:
        out.print(f"  [yellow]skipped[/] {item['path']}: {item['reason']}")
    if len(report.skipped) > 20:
        out.print(f"  … and {len(report.skipped) - 20} more (see --json)")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain words.")],
    top_k: Annotated[
        int | None, typer.Option("--top-k", min=1, max=20, help="Cite at most this many articles.")
    ] = None,
    as_json: JsonFlag = False,
    conversation: ConversationOption = None,
) -> None:
    """Answer a question from the indexed articles, with numbered citations.

    On an empty index, the seed articles (seeds/) are indexed first.
    """
    settings = Settings()
    engine = open_engine(settings, with_model=True)
    seeded = engine.seed_if_empty()
    if seeded is not None and not as_json:
        err.print(f"[dim]Index was empty: indexed {seeded.added} seed article(s) first.[/]")
    if conversation:
        from newsdesk.index import Conversations

        reply = Conversations(engine).ask(question, conversation, top_k=top_k)
        out.print_json(reply.model_dump_json()) if as_json else print_answer(
            out, reply, reply.searched
        )
        return
    answer = engine.ask(question, top_k=top_k)
    if as_json:
        out.print_json(answer.model_dump_json())
        return
    print_answer(out, answer)


@app.command()
def stats(as_json: JsonFlag = False) -> None:
    """Show how many articles and chunks are indexed, from which sources, with which model."""
    info = read_stats(Settings())
    if as_json:
        out.print_json(json.dumps(info))
        return
    table = Table(show_header=False, box=None)
    for key in ("articles", "chunks", "model", "index", "last_sync"):
        table.add_row(key, str(info[key]))
    for origin, count in sorted(info["sources"].items()):
        table.add_row("source", f"{origin} ({count} articles)")
    out.print(table)


HALVES = {"fit": ("fit",), "check": ("check",), "both": ("fit", "check", "all")}
CURVE = [round(0.05 * i, 2) for i in range(1, 20)]
"""Confidence thresholds the refusal curve is shown at."""


@app.command(name="eval")
def evaluate(
    questions: Annotated[
        list[Path] | None,
        typer.Argument(help="JSON Lines of questions: id, question, article, answers."),
    ] = None,
    unanswerable: Annotated[
        list[Path] | None,
        typer.Option(
            "--unanswerable",
            help="JSON Lines of questions the articles cannot answer (repeat); those with a "
            "`kind` (near-miss, off-topic…) are also counted per kind.",
        ),
    ] = None,
    halves: Annotated[
        str,
        typer.Option(
            "--half",
            help="Report the fit half, the check half, or both and all (halves: a hash of "
            "each question's id, see index.evaluate.half).",
        ),
    ] = "both",
    as_json: JsonFlag = False,
    details: Annotated[
        bool, typer.Option("--details", help="Also list every question's outcome.")
    ] = False,
    conversations: Annotated[
        Path | None,
        typer.Option(
            "--conversations",
            help="JSON Lines of conversations (id, turns): ask each one's turns in order and "
            "score first turns and follow-ups apart.",
        ),
    ] = None,
) -> None:
    """Measure answer quality on question sets: hit@1/5, MRR, accuracy, refusals, latency.

    Questions go through the same engine the API uses. Ingest the corpus the questions are
    about first. With unanswerable questions, the refusal / false-refusal curve over the
    answerer's confidence is shown too.
    """
    from newsdesk.index import Evaluator, Report, load_questions, refusal_curve

    if halves not in HALVES:
        raise NewsdeskError(f"--half must be one of {', '.join(HALVES)}, not {halves!r}")
    if conversations is not None:
        from newsdesk.conversation import eval_report
        from newsdesk.index import Conversations

        engine = open_engine(Settings(), with_model=True)
        with progress_bar(sys.stderr.isatty() and not as_json, label="Asking") as update:
            eval_report(
                Conversations(engine), conversations, HALVES[halves], out, as_json, details, update
            )
        return
    if not questions:
        raise NewsdeskError("give question files, or --conversations FILE")
    good = [q for path in questions for q in load_questions(path)]
    bad = [q for path in unanswerable or [] for q in load_questions(path)]
    engine = open_engine(Settings(), with_model=True)  # not in the first question's latency
    with progress_bar(sys.stderr.isatty() and not as_json, label="Asking") as update:
        outcomes = Evaluator(engine).run(good, bad, update)  # type: ignore[arg-type]
    parts = {
        name: [o for o in outcomes if name == "all" or o.half == name] for name in HALVES[halves]
    }
    reports = {name: Report.of(part) for name, part in parts.items()}
    curves = {name: refusal_curve(part, CURVE) for name, part in parts.items()}
    show_curve = bool(bad) and any(o.confidence is not None for o in outcomes)
    if as_json:
        data: dict[str, object] = {n: r.to_dict(with_outcomes=details) for n, r in reports.items()}
        if show_curve:
            data["refusal_curve"] = {
                n: [{"threshold": t, "refusal": r, "false_refusal": f} for t, r, f in curve]
                for n, curve in curves.items()
            }
        out.print_json(json.dumps(data))
        return
    names = ", ".join(p.name for p in questions)
    table = Table(title=f"{names}: {len(good)} questions, {len(bad)} unanswerable")
    table.add_column("")
    for name, report in reports.items():
        table.add_column(f"{name} ({report.questions}+{report.unanswerable})", justify="right")
    rows = [
        ("hit@1", lambda r: f"{r.hit_at_1:.3f}"),
        ("hit@5", lambda r: f"{r.hit_at_5:.3f}"),
        ("MRR", lambda r: f"{r.mrr:.3f}"),
        ("answer accuracy", lambda r: f"{r.accuracy:.3f}"),
        ("false refusals", lambda r: f"{r.false_refusal:.3f}"),
        ("refusal on unanswerable", lambda r: "-" if r.refusal is None else f"{r.refusal:.3f}"),
        ("mean answer length", lambda r: f"{r.mean_answer_chars:.0f} chars"),
        ("latency p50 / p95", lambda r: f"{r.latency_p50_ms:.0f} / {r.latency_p95_ms:.0f} ms"),
        ("retrieval alone p50", lambda r: f"{r.retrieval_p50_ms:.0f} ms"),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(r) for r in reports.values()))
    for kind in sorted({k for r in reports.values() for k in r.refusal_by_kind}):
        counts = (r.refusal_by_kind.get(kind) for r in reports.values())
        table.add_row(f"  refused: {kind}", *(f"{c[0]} of {c[1]}" if c else "-" for c in counts))
    out.print(table)
    if show_curve:
        curve_table = Table(title="refusal / false refusal if refused below a confidence")
        curve_table.add_column("confidence <")
        for name in curves:
            curve_table.add_column(f"{name}", justify="right")
        for i, t in enumerate(CURVE):
            cells = (f"{curve[i][1]:.2f} / {curve[i][2]:.2f}" for curve in curves.values())
            curve_table.add_row(f"{t:.2f}", *cells)
        out.print(curve_table)
    if details:
        for o in outcomes:
            mark = "ok " if o.correct else ("ref" if not o.answered else "-- ")
            conf = "-" if o.confidence is None else f"{o.confidence:.2f}"
            out.print(
                f"{mark} {o.half:5} rank={o.rank} conf={conf} {o.id}: {o.question}\n"
                f"     {o.answer[:200]}"
            )


@app.command()
def chat(conversation: ConversationOption = None) -> None:
    """Ask questions in a conversation: follow-ups may refer to earlier answers. Line editing
    and history; `/new` starts a new conversation; Ctrl-D leaves."""
    from newsdesk.conversation import chat as run_chat
    from newsdesk.index import Conversations

    engine = open_engine(Settings(), with_model=True)
    engine.seed_if_empty()
    run_chat(Conversations(engine), out, err, conversation)


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: NEWSDESK_API_HOST, 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Port to listen on (default: NEWSDESK_API_PORT, 8000)."
        ),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Re-sync NEWSDESK_ARTICLES_DIRS whenever files change there."),
    ] = False,
) -> None:
    """Run the HTTP API (docs at /docs). The model and index load once, at start-up."""
    from newsdesk.api.server import serve as run_server

    settings = Settings()
    changes = {"api_host": host, "api_port": port, "watch": watch or None}
    run_server(settings.model_copy(update={k: v for k, v in changes.items() if v is not None}))


@app.command(name="bot")
def run_bot(
    sync: Annotated[
        bool,
        typer.Option(
            "--sync",
            help="Sync the slash commands with Discord even if unchanged since the last sync.",
        ),
    ] = False,
) -> None:
    """Run the Discord bot (DISCORD_TOKEN). It asks the API at NEWSDESK_API_URL, or serves
    the API in-process when that is unset."""
    from newsdesk.bot.config import BotSettings
    from newsdesk.bot.main import run

    try:
        run(sync=sync)
    except NewsdeskError as exc:
        wait = BotSettings().exit_delay_seconds
        if not wait:
            raise
        err.print(f"[red]error:[/] {exc}", highlight=False)
        err.print(f"Exiting in {wait:g} s (NEWSDESK_EXIT_DELAY_SECONDS).", highlight=False)
        time.sleep(wait)  # SIGTERM ends it at once; Ctrl-C too
        raise SystemExit(exc.exit_code) from None


def main() -> None:
    """Entry point: run the CLI, turning Newsdesk's errors into one sentence and their exit code
    (1, or 78 for a set-up Discord refused)."""
    from pydantic import ValidationError

    try:
        app()
    except NewsdeskError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        raise SystemExit(exc.exit_code) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"NEWSDESK_{'_'.join(str(p) for p in e['loc']).upper()}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        err.print(f"[red]error:[/] invalid setting: {problems}", highlight=False)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise SystemExit(130) from None
