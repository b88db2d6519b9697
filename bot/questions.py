"""Questions from Discord messages: mentions stripped."""

from __future__ import annotations

import re

MENTION = re.compile(r"<(@[!&]?|#)\d+>|(?<!\S)@(everyone|here)\b")
"""User, role and channel mentions, @everyone and @here: Discord things, not news."""


def strip_mentions(text: str) -> str:
    """The question in a message: mentions (the bot's and any other) removed, spaces collapsed."""
    return " ".join(MENTION.sub(" ", text).split())
