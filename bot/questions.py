"""Questions from Discord messages: mentions stripped, follow-ups given their earlier context."""

from __future__ import annotations

import re

from bot.api_client import MAX_QUESTION_CHARS

MAX_EARLIER = 4
"""Earlier questions of a thread that go with a follow-up (the most recent ones)."""


MENTION = re.compile(r"<(@[!&]?|#)\d+>|(?<!\S)@(everyone|here)\b")
"""User, role and channel mentions, @everyone and @here: Discord things, not news."""


def strip_mentions(text: str) -> str:
    """The question in a message: mentions (the bot's and any other) removed, spaces collapsed."""
    return " ".join(MENTION.sub(" ", text).split())


def with_context(question: str, earlier: list[str]) -> str:
    """A follow-up for the API: the follow-up first (it decides what kind of answer is wanted),
    then the thread's earlier questions, most recent first, as many as fit in one question."""
    text = question
    for before in earlier[:MAX_EARLIER]:
        candidate = f"{text} {before}"
        if len(candidate) > MAX_QUESTION_CHARS:
            break
        text = candidate
    return text
