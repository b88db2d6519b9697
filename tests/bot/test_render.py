"""bot/render.py (pure): Discord's limits, markdown escaping, defused mentions, not-found answers;
and the other pure parts of the bot: buttons, questions, cooldowns, rating claims."""

from __future__ import annotations

import re
from types import SimpleNamespace

import discord
import pytest

from newsdesk.bot import render
from newsdesk.bot.api_client import IndexStats, Job
from newsdesk.bot.memory import Claims, Cooldowns
from newsdesk.bot.questions import strip_mentions
from newsdesk.bot.views import AnswerRef, answer_ref, answer_view
from newsdesk.index.answer.models import NOT_FOUND, Answer, Citation

EVERYONE = "@everyone @here <@123456789012345678> <@!123456789012345678> <@&123456789012345678>"
PINGS = re.compile(r"@(everyone|here)|<@[!&]?\d")
"""What Discord would render as a mention (a defused one has a zero-width space after '@')."""


def citation(n: int, **changes: object) -> Citation:
    values: dict[str, object] = {
        "n": n,
        "article_id": f"world/article-{n}.txt",
        "title": f"Article number {n}",
        "url": f"https://example.org/news/{n}",
        "published_at": "2025-03-03T09:30:00",
        "source": "Wire",
        "quote": f"The bridge will cost {n} million pounds.",
        "score": 0.5,
    }
    return Citation(**{**values, **changes})  # type: ignore[arg-type]


def answer(text: str = "It costs 84 million pounds [1].", n: int = 1, **changes: object) -> Answer:
    cites = [citation(i, **changes) for i in range(1, n + 1)]
    return Answer(question="How much?", answer=text, answered=True, citations=cites)


def assert_within_limits(*embeds: discord.Embed) -> None:
    """Every limit Discord enforces on a message's embeds."""
    assert len(embeds) <= render.EMBEDS_MAX
    assert sum(len(e) for e in embeds) <= render.EMBED_TOTAL_MAX
    for e in embeds:
        assert len(e.title or "") <= render.TITLE_MAX
        assert len(e.description or "") <= render.DESCRIPTION_MAX
        assert len(e.footer.text or "") <= render.FOOTER_MAX
        assert len(e.fields) <= render.FIELDS_MAX
        for f in e.fields:
            assert 0 < len(f.name or "") <= render.FIELD_NAME_MAX
            assert 0 < len(f.value or "") <= render.FIELD_VALUE_MAX


def text_of(*embeds: discord.Embed) -> str:
    parts = []
    for e in embeds:
        parts += [e.title or "", e.description or "", e.footer.text or ""]
        parts += [f"{f.name}\n{f.value}" for f in e.fields]
    return "\n".join(parts)


# ----------------------------------------------------------------- answers


def test_sources_from_different_days_are_said_so() -> None:
    two = Answer(
        question="How much?",
        answer="It costs 2 million pounds [1], or 1 million [2].",
        answered=True,
        citations=[citation(1, published_at="2025-04-03"), citation(2)],
    )
    assert two.date_range == ["2025-03-03", "2025-04-03"]
    embed = render.answer_embed(two)
    assert embed.footer.text == (
        "Sources from different days: 2025-03-03 to 2025-04-03. Full quotes: press Sources."
    )
    assert answer(n=2).date_range is None  # the same day


def test_an_answer_lists_its_sources_with_link_date_source_and_short_quote() -> None:
    embed = render.answer_embed(answer(n=2), "How much will the bridge cost?")
    assert embed.title == "How much will the bridge cost?"
    assert embed.description == "It costs 84 million pounds \\[1\\]." or (
        embed.description == "It costs 84 million pounds [1]."
    )
    assert [f.name for f in embed.fields] == ["[1] Article number 1", "[2] Article number 2"]
    assert embed.fields[0].value == (
        "[link](https://example.org/news/1) · 2025-03-03 · Wire\n"
        "“The bridge will cost 1 million pounds.”"
    )
    assert embed.colour == render.ANSWERED
    assert embed.footer.text == "Full quotes: press Sources."
    assert_within_limits(embed)


def test_the_answer_markers_stay_readable() -> None:
    embed = render.answer_embed(answer("Costs rose [1] and fell [2].", n=2))
    assert embed.description is not None and "[1]" in embed.description.replace("\\", "")


def test_a_very_long_answer_and_question_are_trimmed_not_rejected() -> None:
    long_answer = answer(" ".join(["word"] * 5000), n=5)
    embed = render.answer_embed(long_answer, "why " * 1000)
    assert_within_limits(embed)
    assert embed.description is not None and embed.description.endswith("…")
    assert embed.title is not None and embed.title.endswith("…")
    assert len(embed.fields) >= 3  # the answer leaves room for sources


@pytest.mark.parametrize(
    "changes",
    [
        {"quote": "q" * 5000},
        {"quote": "a long quote " * 800},
        {"title": "T" * 1000},
        {"title": "*" * 1000},
        {"source": "s" * 5000},
        {"article_id": "x" * 3000, "url": None},
        {"url": "https://example.org/" + "p" * 3000},
        {"quote": "\\" * 3000},
    ],
    ids=[
        "quote",
        "quote-words",
        "title",
        "title-escaped",
        "source",
        "id",
        "url",
        "backslashes",
    ],
)
def test_long_parts_of_30_citations_stay_within_every_limit(changes: dict[str, object]) -> None:
    full = answer("A" * 4000, n=30, **changes)
    embed = render.answer_embed(full, "Q" * 2000)
    assert_within_limits(embed)
    assert embed.footer.text is not None and "more sources under Sources" in embed.footer.text
    sources = render.sources_embeds(full)
    assert_within_limits(*sources)
    shown = sum(d.count("**[") for d in (e.description or "" for e in sources))
    hidden = re.match(r"(\d+) more", sources[-1].footer.text or "0 more")
    assert hidden is not None and shown + int(hidden[1]) == 30


def test_30_short_citations_show_at_most_25_fields_and_count_the_rest() -> None:
    embed = render.answer_embed(answer(n=30))
    assert len(embed.fields) == render.FIELDS_MAX
    assert embed.footer.text == "5 more sources under Sources. Full quotes: press Sources."
    assert_within_limits(embed)


def test_quotes_in_the_answer_are_short_and_under_sources_in_full() -> None:
    quote = "The council said " + "very " * 100 + "much."
    full = answer(n=3, quote=quote)
    embed = render.answer_embed(full)
    assert all(len(f.value) < 400 and f.value.endswith("…”") for f in embed.fields)
    sources = render.sources_embeds(full)
    assert len(sources) == 1 and sources[0].title == "Sources"
    assert sources[0].description is not None and sources[0].description.count(quote) == 3
    assert not sources[0].footer.text
    assert_within_limits(*sources)


def test_sources_pack_into_several_embeds_when_needed() -> None:
    full = answer(n=5, quote="word " * 180)  # ~900 characters each, 4 to a description
    sources = render.sources_embeds(full)
    assert len(sources) == 2 and sources[1].title is None and not sources[1].footer.text
    text = text_of(*sources)
    assert all(f"[{n}] Article number {n}" in text for n in range(1, 6))
    assert_within_limits(*sources)


def test_identical_copies_are_mentioned_under_sources() -> None:
    full = answer(n=1, copies=["a.txt", "b.txt"])
    assert "Same text in 2 other article(s)." in text_of(*render.sources_embeds(full))


def test_unsafe_or_odd_urls_never_break_the_markdown() -> None:
    assert render.safe_url("javascript:alert(1)") is None
    assert render.safe_url("ftp://example.org/x") is None
    assert render.safe_url("https://example.org/" + "a" * 600) is None
    assert render.safe_url("https://example.org/a (b)") == "https://example.org/a%20%28b%29"
    line = render.source_line(citation(1, url="https://en.wikipedia.org/wiki/Bridge_(x)"))
    assert line.startswith("[link](https://en.wikipedia.org/wiki/Bridge_%28x%29)")
    assert render.source_line(citation(1, url=None)).startswith("id: world/article-1.txt")


# ----------------------------------------------------------------- escaping and mentions


def test_markdown_in_answers_and_articles_is_shown_as_typed() -> None:
    tricky = "**bold** __under__ `code` ~~gone~~ ||spoiler|| [click](https://evil.example)"
    full = Answer(
        question=tricky,
        answer=f"{tricky}\n# heading\n> quoted\n- item",
        answered=True,
        citations=[citation(1, title=tricky, quote=tricky, source=tricky)],
    )
    embed = render.answer_embed(full)
    text = text_of(embed, *render.sources_embeds(full))
    for raw in ("**bold**", "__under__", "`code`", "~~gone~~", "||spoiler||"):
        assert raw not in text
    assert not re.search(r"(?<!\\)\[click\]", text)
    assert "\\*\\*bold\\*\\*" in text and "\\[click](https://evil.example)" in text
    assert embed.description is not None
    assert "\n\\# heading" in embed.description and "\n\\- item" in embed.description


def test_mentions_anywhere_are_defused() -> None:
    full = Answer(
        question=EVERYONE,
        answer=f"{EVERYONE} [1]",
        answered=True,
        citations=[
            citation(
                1, title=EVERYONE, quote=EVERYONE, source=EVERYONE, url=None, article_id=EVERYONE
            )
        ],
    )
    job = Job(id="j", status="failed", error=EVERYONE)
    texts = [
        text_of(render.answer_embed(full)),
        text_of(render.answer_embed(full, EVERYONE)),
        text_of(*render.sources_embeds(full)),
        text_of(render.job_embed(job)),
        render.notice(EVERYONE),
    ]
    for text in texts:
        assert not PINGS.search(text), text
        assert "@\u200beveryone" in text


# ----------------------------------------------------------------- not found


def test_a_not_found_answer_says_so_and_suggests_rephrasing() -> None:
    refused = Answer(question="Who won?", answer=NOT_FOUND, answered=False)
    embed = render.answer_embed(refused)
    assert embed.description == f"{NOT_FOUND}\n\n{render.REPHRASE}"
    assert embed.colour == render.NOT_FOUND and not embed.fields
    assert embed.footer.text == "No article answers this."


def test_a_not_found_answer_never_shows_citations_as_support() -> None:
    refused = Answer(question="Who?", answer=NOT_FOUND, answered=False, citations=[citation(1)])
    assert not render.answer_embed(refused).fields
    assert "sources" not in [b.custom_id.split(":")[-1] for b in buttons(refused, True)]


# ----------------------------------------------------------------- other messages


def test_notices_fit_in_a_message() -> None:
    text = render.notice("sorry " * 1000)
    assert len(text) <= render.CONTENT_MAX and text.endswith("…")


def test_clip_cuts_at_words_and_never_leaves_a_dangling_escape() -> None:
    assert render.clip("short", 10) == "short"
    assert render.clip("one two three four", 16) == "one two three…"
    assert render.clip("a" * 20, 10) == "a" * 9 + "…"
    assert render.clip("abcdefgh\\*x", 10) == "abcdefgh…"
    assert render.clip("abcdefg\\\\xy", 10) == "abcdefg\\\\…"  # an escaped backslash stays


def test_thread_names_are_one_line_within_100_characters() -> None:
    assert render.thread_name("How\nmuch  will it cost?") == "How much will it cost?"
    assert len(render.thread_name("word " * 100)) <= render.THREAD_NAME_MAX
    assert render.thread_name("") == "Follow-up questions"


def test_reindex_progress_failure_and_report() -> None:
    running = render.job_embed(Job(id="j", status="running", done=3, total=10))
    assert running.description == "3/10 articles embedded"
    failed = render.job_embed(Job(id="j", status="failed", error="**disk** full"))
    assert failed.title == "Reindex failed" and failed.description == "\\*\\*disk\\*\\* full"
    report = {
        "added": 2,
        "updated": 1,
        "removed": 0,
        "unchanged": 7,
        "skipped": [{"path": f"bad/{i}_x.txt", "reason": "empty file"} for i in range(500)],
        "chunks_added": 9,
        "chunks_removed": 3,
        "seconds": 1.25,
    }
    done = render.job_embed(Job(id="j", status="succeeded", report=report))
    assert done.description is not None
    assert done.description.startswith(
        "2 added, 1 updated, 0 removed, 7 unchanged, 500 skipped\nchunks: +9 −3, in 1.2 s"
    )
    assert done.description.count("skipped bad/") == 10 and "bad/0\\_x.txt" in done.description
    assert_within_limits(done)


def test_stats() -> None:
    embed = render.stats_embed(
        IndexStats(
            articles=2225,
            chunks=9000,
            model="all-MiniLM-L6-v2",
            last_sync="2026-01-05T10:00:00+00:00",
        )
    )
    fields = {f.name: f.value for f in embed.fields}
    assert fields == {
        "Articles": "2,225",
        "Chunks": "9,000",
        "Last sync": "2026-01-05 10:00 UTC",
        "Model": "all-MiniLM-L6-v2",
    }
    never = render.stats_embed(IndexStats(articles=0, chunks=0))
    assert {f.name: f.value for f in never.fields}["Last sync"] == "never"


# ----------------------------------------------------------------- buttons and questions


REF = AnswerRef("kP3x9vQm2TQe1rWq0aZ8Yw", 2)


def buttons(sources: bool, threadable: bool) -> list[discord.ui.Button[discord.ui.View]]:
    view = answer_view(REF, sources=sources, threadable=threadable)
    return [item.item for item in view.children]  # type: ignore[attr-defined]


def test_buttons_under_an_answer_name_its_conversation_and_turn() -> None:
    ids = [b.custom_id for b in buttons(True, True)]
    assert ids == [
        "newsdesk:answer:sources:kP3x9vQm2TQe1rWq0aZ8Yw:2",
        "newsdesk:answer:up:kP3x9vQm2TQe1rWq0aZ8Yw:2",
        "newsdesk:answer:down:kP3x9vQm2TQe1rWq0aZ8Yw:2",
        "newsdesk:answer:thread:kP3x9vQm2TQe1rWq0aZ8Yw:2",
    ]
    assert all(len(i or "") <= 100 for i in ids)  # Discord's limit on a custom id
    assert [b.custom_id for b in buttons(False, False)] == [
        "newsdesk:answer:up:kP3x9vQm2TQe1rWq0aZ8Yw:2",
        "newsdesk:answer:down:kP3x9vQm2TQe1rWq0aZ8Yw:2",
    ]
    assert answer_view(REF, sources=True, threadable=True).timeout is None


def test_an_answer_is_known_by_its_buttons() -> None:
    view = answer_view(REF, sources=False, threadable=False)
    message = SimpleNamespace(components=[SimpleNamespace(children=list(view.children))])
    assert answer_ref(message) == REF  # type: ignore[arg-type]
    assert answer_ref(SimpleNamespace(components=[])) is None  # type: ignore[arg-type]


def test_mentions_are_not_part_of_a_question() -> None:
    assert strip_mentions("<@123> How much? <@!45> <@&67> <#89> @everyone @here") == "How much?"
    assert strip_mentions("<@123>  ") == ""
    assert strip_mentions("mail me@everyone.org") == "mail me@everyone.org"


def test_cooldown_per_user() -> None:
    now = [100.0]
    cooldowns = Cooldowns(10, clock=lambda: now[0])
    assert cooldowns.hit(1) is None
    assert cooldowns.hit(1) == 10
    assert cooldowns.hit(2) is None
    now[0] += 4
    assert cooldowns.hit(1) == pytest.approx(6)
    now[0] += 6
    assert cooldowns.hit(1) is None
    assert all(Cooldowns(0).hit(3) is None for _ in range(5))


def test_a_rating_is_claimed_once_until_released_and_claims_are_bounded() -> None:
    claims = Claims(size=2)
    assert claims.claim("a") and not claims.claim("a")
    claims.release("a")
    assert claims.claim("a") and claims.claim("b") and claims.claim("c")
    assert claims.claim("a")  # the least recent was dropped
