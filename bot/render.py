"""Answers, sources and reports as Discord messages. Pure: data in, embeds and text out.

Everything returned fits Discord's limits (trimmed, never rejected), renders user and article
text as typed (markdown escaped) and defuses mentions in it (they never ping anyway: every send
uses `AllowedMentions.none()`).
"""

from __future__ import annotations

from urllib.parse import quote

import discord
from discord.utils import escape_markdown, escape_mentions

from newsdesk.bot.api_client import Feed, IndexStats, Job
from newsdesk.index import Answer, Citation

CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
"""Characters in all of one message's embeds together (titles, descriptions, fields, footers)."""
EMBEDS_MAX = 10
THREAD_NAME_MAX = 100

ANSWER_WITH_SOURCES_MAX = 3500
"""An answer's share of its embed when it has sources, so that some sources always fit."""
FOOTER_RESERVE = 150
SHORT_QUOTE = 200
SOURCE_BLOCK_MAX = 1800
URL_MAX = 512
ELLIPSIS = "…"

ANSWERED = discord.Colour.blurple()
NOT_FOUND = discord.Colour.light_grey()
REPHRASE = (
    "Try rephrasing the question, or ask about something the articles cover "
    "(names, places and numbers help)."
)
THREAD_INTRO = (
    "Ask follow-up questions here, no mention needed: each one continues the conversation of "
    "the answer above, so it may refer to it (e.g. “When does it open?”)."
)


def safe(text: str) -> str:
    """`text` shown as typed: markdown escaped, mentions (@everyone, roles, users) defused."""
    return escape_mentions(escape_markdown(text))


def clip(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: cut at a word boundary near the end, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > len(cut) * 0.8:
        cut = cut[:space]
    cut = cut.rstrip()
    if (len(cut) - len(cut.rstrip("\\"))) % 2:  # a lone escape would show as a backslash
        cut = cut[:-1]
    return cut + ELLIPSIS


def notice(text: str) -> str:
    """A plain message (apology, hint) as message content."""
    return clip(safe(text), CONTENT_MAX)


def thread_name(question: str) -> str:
    """A follow-up thread's name: the question, on one line, within Discord's 100 characters."""
    return clip(" ".join(question.split()), THREAD_NAME_MAX) or "Follow-up questions"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL that is safe inside a markdown link, or None."""
    if not url or not url.startswith(("http://", "https://")) or len(url) > URL_MAX:
        return None
    return quote(url, safe=":/?#[]@!$&'*+,;=%~")


def source_line(citation: Citation) -> str:
    """Link (or article id), date and source of a citation, on one line."""
    url = safe_url(citation.url)
    where = f"[link]({url})" if url else f"id: {clip(safe(citation.article_id), 200)}"
    parts = [where]
    if citation.published_at:
        parts.append(safe(citation.published_at[:10]))
    if citation.source:
        parts.append(clip(safe(citation.source), 100))
    return " · ".join(parts)


def citation_title(citation: Citation, limit: int) -> str:
    return clip(f"[{citation.n}] {safe(citation.title or citation.article_id)}", limit)


def answer_embed(answer: Answer, question: str | None = None) -> discord.Embed:
    """The answer with its [n] markers, and a numbered list of its sources with short quotes.

    `question` is what the user typed (a follow-up's context is in `answer.question`). A
    not-found answer says so and suggests rephrasing; it lists no sources.
    """
    title = clip(safe(question or answer.question), TITLE_MAX)
    if not answer.answered or not answer.citations:
        text = clip(safe(answer.answer), DESCRIPTION_MAX - len(REPHRASE) - 2)
        embed = discord.Embed(title=title, description=f"{text}\n\n{REPHRASE}", colour=NOT_FOUND)
        return embed.set_footer(text="No article answers this.")
    embed = discord.Embed(
        title=title,
        description=clip(safe(answer.answer), ANSWER_WITH_SOURCES_MAX),
        colour=ANSWERED,
    )
    budget = EMBED_TOTAL_MAX - len(embed) - FOOTER_RESERVE
    shown = 0
    for citation in answer.citations[:FIELDS_MAX]:
        name = citation_title(citation, FIELD_NAME_MAX)
        line = source_line(citation)
        quoted = f"{line}\n“{clip(safe(citation.quote), SHORT_QUOTE)}”"
        value = next((v for v in (quoted, line) if len(name) + len(v) <= budget), None)
        if value is None:
            break
        embed.add_field(name=name, value=clip(value, FIELD_VALUE_MAX), inline=False)
        budget -= len(name) + len(value)
        shown += 1
    footer = "Full quotes: press Sources."
    if answer.date_range:
        footer = f"Sources from different days: {' to '.join(answer.date_range)}. {footer}"
    if hidden := len(answer.citations) - shown:
        footer = f"{hidden} more source{'s' if hidden > 1 else ''} under Sources. {footer}"
    return embed.set_footer(text=footer)


def source_block(citation: Citation) -> str:
    """One source in full: title, link/date/source, the whole quote, identical copies."""
    lines = [f"**{citation_title(citation, FIELD_NAME_MAX)}**", source_line(citation)]
    lines.append(f"“{safe(citation.quote)}”")
    if citation.copies:
        lines.append(f"Same text in {len(citation.copies)} other article(s).")
    return clip("\n".join(lines), SOURCE_BLOCK_MAX)


def sources_embeds(answer: Answer) -> list[discord.Embed]:
    """Every source of an answer with its full quote, packed into at most 10 embeds within the
    6,000 characters a message's embeds may hold; what does not fit is counted at the end."""
    if not answer.citations:
        return [discord.Embed(title="Sources", description="This answer cites no article.")]
    pages: list[list[str]] = [[]]
    used = len("Sources") + FOOTER_RESERVE
    shown = 0
    for citation in answer.citations:
        block = source_block(citation)
        if used + len(block) + 2 > EMBED_TOTAL_MAX:
            break
        page = pages[-1]
        if len("\n\n".join([*page, block])) > DESCRIPTION_MAX:
            if len(pages) == EMBEDS_MAX:
                break
            pages.append(page := [])
        page.append(block)
        used += len(block) + 2
        shown += 1
    embeds = [
        discord.Embed(title="Sources" if i == 0 else None, description="\n\n".join(page))
        for i, page in enumerate(pages)
    ]
    if hidden := len(answer.citations) - shown:
        embeds[-1].set_footer(text=f"{hidden} more source(s) did not fit in one message.")
    return embeds


def job_embed(job: Job) -> discord.Embed:
    """A reindex job's progress, then its report."""
    if job.status == "running":
        progress = f"{job.done}/{job.total} articles embedded" if job.total else "scanning"
        return discord.Embed(title="Reindex running…", description=progress)
    if job.status == "failed":
        return discord.Embed(
            title="Reindex failed",
            description=clip(safe(job.error or "no reason given"), DESCRIPTION_MAX),
            colour=discord.Colour.red(),
        )
    report = job.report or {}
    counts = ", ".join(
        f"{report.get(key, 0)} {key}" for key in ("added", "updated", "removed", "unchanged")
    )
    skipped = report.get("skipped") or []
    lines = [
        f"{counts}, {len(skipped)} skipped",
        f"chunks: +{report.get('chunks_added', 0)} −{report.get('chunks_removed', 0)}, "
        f"in {float(report.get('seconds', 0)):.1f} s",
    ]
    lines += [
        f"skipped {safe(str(s.get('path', '?')))}: {safe(str(s.get('reason', '?')))}"
        for s in skipped[:10]
        if isinstance(s, dict)
    ]
    description = clip("\n".join(lines), DESCRIPTION_MAX)
    return discord.Embed(title="Reindex finished", description=description, colour=ANSWERED)


def stats_embed(stats: IndexStats) -> discord.Embed:
    """Articles, chunks, last sync and model of the index."""
    embed = discord.Embed(title="Newsdesk index", colour=ANSWERED)
    embed.add_field(name="Articles", value=f"{stats.articles:,}")
    embed.add_field(name="Chunks", value=f"{stats.chunks:,}")
    last = stats.last_sync.replace("T", " ")[:16] + " UTC" if stats.last_sync else "never"
    embed.add_field(name="Last sync", value=safe(last))
    if stats.model:
        embed.add_field(name="Model", value=clip(safe(stats.model), FIELD_VALUE_MAX), inline=False)
    return embed


def feeds_embed(feeds: list[Feed]) -> discord.Embed:
    """The polled feeds: each with its last success or error and its entries."""
    embed = discord.Embed(title="Feeds", colour=ANSWERED)
    if not feeds:
        embed.description = "No feeds yet: add one with `/feeds add`."
        return embed
    for feed in feeds[:FIELDS_MAX]:
        if feed.last_error:
            state = f"last poll failed: {clip(safe(feed.last_error), 300)}"
        elif feed.last_success:
            state = (
                f"{feed.articles} entries, polled {feed.last_success.replace('T', ' ')[:16]} UTC"
            )
        else:
            state = "not polled yet"
        name = clip(safe(feed.title or feed.url), FIELD_NAME_MAX)
        embed.add_field(name=name, value=clip(f"{safe(feed.url)}\n{state}", 1000), inline=False)
    if hidden := len(feeds) - FIELDS_MAX:
        embed.set_footer(text=f"{hidden} more: GET /feeds lists them all.")
    return embed
