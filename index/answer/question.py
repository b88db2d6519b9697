"""What a question asks for (a sum of money, a count, a date, a person, a reason…) and whether a
sentence holds such a thing. Plain patterns over English; no model."""

from __future__ import annotations

import re
from functools import lru_cache

NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    "forty|fifty|sixty|hundred|hundreds|thousand|thousands|million|millions|billion|trillion|"
    "dozen|dozens|half|double|twice|triple|quarter|third"
)
MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"

PATTERNS: dict[str, re.Pattern[str]] = {
    "money": re.compile(
        r"[$£€¥]\s?\d|\d[\d,.]*\s?(bn|m|k|billion|million|trillion)\b|"
        r"\b(a|\d[\d,.]*)\s+(pounds?|dollars?|euros?|yen|cents?|pence|p|francs?|rupees?|"
        r"yuan|roubles?|rubles?)\b|\b[A-Z]{1,3}\$\s?\d",
        re.I,
    ),
    "percent": re.compile(r"\d\s?(%|per ?cent\b|percent\b|percentage points?\b)", re.I),
    "count": re.compile(rf"\d|\b({NUMBER_WORDS})\b", re.I),
    "quantity": re.compile(rf"\d|\b({NUMBER_WORDS})\b", re.I),
    "date": re.compile(
        rf"\b(1[89]\d\d|20\d\d|{MONTHS}|{WEEKDAYS}|yesterday|today|tomorrow|"
        r"(last|next|this|earlier|later) (week|month|year|season|spring|summer|autumn|winter)|"
        r"\d+ (days?|weeks?|months?|years?) (ago|later|earlier))\b",
        re.I,
    ),
    "reason": re.compile(
        r"\b(because|due to|as a result|since|amid|following|blam(e|ed|es|ing)|reasons?|"
        r"so that|in order to|caus(e|ed|es|ing)|led to|thanks to|owing to|after|"
        r"concerns?|fears?|worr(y|ied|ies)|aimed at|in a bid to|to (help|avoid|protect|"
        r"meet|reduce|boost|cut|ensure|prevent|stop))\b",
        re.I,
    ),
}
CAPITALISED = re.compile(r"\b[A-Z][\w'&.-]*(?:\s+(?:of|de|van|von|the|and|&)?\s*[A-Z][\w'&.-]*)*")

WHAT_NOUNS = {
    "money": r"price|cost|fee|fine|salary|sum|amount|value|worth|budget|bill|deal|bid|offer|"
    r"revenue|profit|loss|sales|turnover|pay|wage",
    "percent": r"percentage|share|proportion|rate of|growth rate",
    "quantity": r"rate|figure|total|number|level|score|margin|size|ratio",
    "date": r"year|date|day|month|time|season",
}


@lru_cache(maxsize=1024)
def answer_type(question: str) -> str:
    """The kind of answer a question wants: money, percent, count, quantity, date, reason,
    person, entity or other."""
    q = question.lower()
    if re.search(r"\bhow much\b.*\b(cost|pay|paid|spend|spent|worth|price|raise|raised|make|"
                 r"made|earn|earned|sell|sold|buy|bought|bid|offer|fine|fined|charge|fund|"
                 r"invest|owe|lose|lost|money|cash|bill|budget)", q):
        return "money"
    if re.search(rf"\bwhat (was |is |were |are )?(the )?({WHAT_NOUNS['money']})\b", q):
        return "money"
    if re.search(r"\bby how much\b|\bhow much did .* (grow|rise|fall|increase|decrease|drop)|"
                 rf"\bwhat ({WHAT_NOUNS['percent']})\b", q):
        return "percent"
    if re.search(r"\bhow many\b", q):
        return "count"
    if re.search(r"\bhow (much|big|large|long|far|high|low|old|often|fast|heavy|tall)\b|"
                 rf"\bwhat ({WHAT_NOUNS['quantity']})\b", q):
        return "quantity"
    if re.search(rf"\bwhen\b|\bwhat ({WHAT_NOUNS['date']})\b|\bhow soon\b|\bwhich (year|day|"
                 r"month|date)\b", q):
        return "date"
    if re.search(r"\bwhy\b|\bwhat (made|makes|caused|causes|led|prompted|was behind|is behind)\b|"
                 r"\breasons?\b|\bhow come\b", q):
        return "reason"
    if re.search(r"\bwho\b|\bwhom\b|\bwhose\b", q):
        return "person"
    if re.search(r"\bwhich\b|\bwhat (company|firm|team|country|album|film|band|group|name|"
                 r"title|club|city|town|show|song|book|game|product|party|bank)\b|\bwhere\b", q):
        return "entity"
    return "other"


def holds(sentence: str, kind: str, question: str) -> bool:
    """Whether a sentence holds the kind of thing the question asks for (beyond its own words)."""
    if kind in PATTERNS:
        pattern = PATTERNS[kind]
        asked = set(pattern.findall(question)) if kind in ("count", "quantity") else set()
        found = [m.group(0) for m in pattern.finditer(sentence)]
        return any(m not in asked for m in found) if asked else bool(found)
    if kind in ("person", "entity"):
        asked = {w.lower() for w in re.findall(r"\w+", question)}
        names = CAPITALISED.findall(sentence)
        # a sentence-initial capital is not a name unless followed by another capital
        return any(
            {w.lower() for w in re.findall(r"\w+", name)} - asked
            and (" " in name.strip() or not sentence.startswith(name))
            for name in names
        )
    return True


QUESTION_NUMBER = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b")


def numbers_in(question: str) -> list[str]:
    """Numbers (years, amounts) a question names, which a supporting article must contain."""
    return [n.rstrip(".,") for n in QUESTION_NUMBER.findall(question)]
