"""What the bot keeps in memory only: per-user cooldowns and who rated what (for double
clicks). Nothing a button or a follow-up needs: that is the API's (conversations)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class Claims:
    """Who rated which answer, to count a double click once: the last `size` ratings, in
    memory only (the answers themselves are the API's)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, None] = OrderedDict()

    def claim(self, key: Hashable) -> bool:
        """True once per `key` (until released or dropped as the least recent)."""
        if key in self._items:
            return False
        self._items[key] = None
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return True

    def release(self, key: Hashable) -> None:
        self._items.pop(key, None)


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
