"""What the bot remembers in memory: recent answers (for their buttons) and per-user cooldowns."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from index.answer.models import Answer


@dataclass
class Asked:
    """An answer the bot sent: what the user typed, the API's answer, who rated it."""

    question: str
    answer: Answer
    raters: set[int] = field(default_factory=set)


class AnswerCache:
    """The last `size` answers by the id of the message that shows them (least recent dropped).

    After a restart or once dropped, an answer's buttons say it is too old.
    """

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self._items: OrderedDict[int, Asked] = OrderedDict()

    def remember(self, message_id: int, question: str, answer: Answer) -> None:
        self._items[message_id] = Asked(question, answer)
        self._items.move_to_end(message_id)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def get(self, message_id: int) -> Asked | None:
        asked = self._items.get(message_id)
        if asked is not None:
            self._items.move_to_end(message_id)
        return asked


class Cooldowns:
    """One question per user every `seconds` (0 turns it off)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._last: dict[int, float] = {}

    def hit(self, user_id: int) -> float | None:
        """Count a question; None when allowed, else the seconds left to wait."""
        if self.seconds <= 0:
            return None
        now = self.clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            return self.seconds - (now - last)
        self._last[user_id] = now
        if len(self._last) > 10_000:
            self._last = {u: t for u, t in self._last.items() if now - t < self.seconds}
        return None
