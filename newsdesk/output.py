"""How the CLI prints an answer: the text, the span of the sources' dates, the citations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from newsdesk.index import Answer


def print_answer(out: Console, answer: Answer, searched: str | None = None) -> None:
    """An answer with its numbered citations; `searched` (a follow-up understood as a
    standalone question) is shown when it differs from the question asked."""
    if searched and searched != answer.question:
        out.print(f"[dim](searched: {searched})[/]", highlight=False)
    out.print(answer.answer, style="" if answer.answered else "yellow", highlight=False)
    if answer.date_range:
        first, last = answer.date_range
        out.print(f"(The sources are from different days: {first} to {last}.)", style="dim")
    for c in answer.citations:
        when = f", {c.published_at[:10]}" if c.published_at else ""
        where = f" — {c.url}" if c.url else ""
        out.print(f"\n[bold][{c.n}][/] {c.title} ({c.article_id}{when}){where}", highlight=False)
        out.print(f"    “{c.quote}”", style="dim", highlight=False)
