"""What a question asks for (a sum of money, a count, a date, a person, a reason…) and whether a
sentence holds such a thing. Patterns over English; currency names, symbols and codes come from
CLDR (Babel) and Unicode's currency-symbol category."""

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
FRACTIONS = "fifth|sixth|seventh|eighth|ninth|tenth"

SCALES = (
    r"m|bn|k|tn|trn|mln|bln|million|millions|billion|billions|trillion|trillions|thousand|"
    r"lakh|lakhs|crore|crores"
)
"""Multipliers written after a number, spelled out or abbreviated (Reuters: "2.8 mln dlrs"; the
Indian lakh and crore: "5 crore rupees")."""
MINOR_AND_WIRE = r"cents?|cts|pence|p|dlrs|stg|sterling"
"""Money words CLDR lacks: minor units, and newswire abbreviations of dollars and sterling."""


def alternation(words: set[str]) -> str:
    """A regex matching any of `words`, as a trie ("d(?:ollars?|inars?)"): Python's engine
    tries a plain alternation of hundreds of words one by one at every position."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, dict]) -> str:
        branches = [re.escape(char) + pattern(node[char]) for char in sorted(node) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return pattern(trie)


@lru_cache(maxsize=1)
def currency_words() -> str:
    """Every currency's name word, singular and plural, from CLDR's English names (Babel):
    dollar(s), krone, kroner, yen, rupiah…, as a regex alternation."""
    from babel import Locale
    from babel.numbers import get_currency_name

    words = {
        get_currency_name(code, count=count, locale="en").split()[-1].lower()
        for code, name in Locale("en").currencies.items()
        if not code.startswith("X") and not re.search(r"\(|\bunit|\bvalue", name, re.I)
        for count in (1, 2)
    }
    return alternation(words)


@lru_cache(maxsize=1)
def currency_signs() -> tuple[str, str]:
    """Signs written beside a sum, as two regex alternations: every Unicode currency symbol
    ($ £ € ₹ ₩ ₽ ₦ …), the lettered symbols CLDR gives in English locales (Rs, Ksh, Rp…) and,
    for every country, its currency's symbol in its own language (zł, Kč, Ft…), and ISO 4217
    codes (NOK, CHF, INR…); then the single-letter symbols (R, K, P…), which are a sum's sign
    only in a stricter form (money_pattern)."""
    import sys
    import unicodedata

    from babel import Locale, localedata
    from babel.core import get_global
    from babel.languages import get_official_languages
    from babel.numbers import get_territory_currencies

    signs = {c for c in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(c) == "Sc"}
    known = set(localedata.locale_identifiers())
    for identifier in known:
        if identifier == "en" or identifier.startswith("en_"):
            signs |= set(Locale.parse(identifier).currency_symbols.values())
    for territory in get_global("territory_currencies"):
        currencies = get_territory_currencies(territory)
        languages = get_official_languages(territory, de_facto=True)
        local = f"{languages[0]}_{territory}" if languages else ""
        if currencies and local in known:
            signs.add(Locale.parse(local).currency_symbols.get(currencies[0], ""))
    signs |= {code for code in Locale("en").currencies if re.fullmatch(r"[A-Z]{3}", code)}
    signs = {s for s in signs if any(c.isalpha() or unicodedata.category(c) == "Sc" for c in s)}
    letters = {s for s in signs if len(s) == 1 and s.isalpha()}
    return alternation(signs - letters), alternation(letters)


@lru_cache(maxsize=1)
def money_pattern() -> re.Pattern[str]:
    """A sum of money: a currency sign or code before or after a number ("₹500", "Rs. 500",
    "NOK 340", "340 NOK", "89 zł", "20 €"), a single-letter sign glued to a number with
    decimals, thousands or a scale ("R2.3 million", "K1,500"), or a number (with its scale)
    before a currency word."""
    signs, letters = currency_signs()
    return re.compile(
        rf"(?-i:(?<![\w$])(?:[A-Z]{{1,3}}\$|{signs})\.?\s?\d)|"
        rf"(?-i:(?<![\w$]){letters}\d[\d,]*(?:[.,]\d|\s?(?:{SCALES})\b))|"
        rf"\d\s?(?:(?:{SCALES})\s+)?(?-i:(?:{signs}))(?![^\W\d_]|-\w)|"
        rf"\b(a|\d[\d,./-]*|{NUMBER_WORDS})\s?(({SCALES})\s+)?"
        rf"({currency_words()}|{MINOR_AND_WIRE})\b",
        re.I,
    )


PATTERNS: dict[str, re.Pattern[str]] = {
    "percent": re.compile(
        r"\d\s?(%|per ?cent\b|percent\b|pct\b|(?-i:pc)\b|percentage points?\b)|"
        rf"\b({NUMBER_WORDS}|a|\d+) (in|out of) (every )?({NUMBER_WORDS}|\d+)\b|"
        r"\b(half|a third|a quarter|two thirds|three quarters|majority|minority)\b|"
        rf"\b(a|one) ({FRACTIONS})\b|\b(two|three|four|five|six|seven|eight|nine) ({FRACTIONS})s\b",
        re.I,
    ),
    "count": re.compile(rf"\d|\b({NUMBER_WORDS})\b", re.I),
    "length": re.compile(
        rf"(\d|\b({NUMBER_WORDS}|a|an))[\s-]*([a-z]+[\s-]+)?(years?|months?|weeks?|days?|nights?|hours?|"
        r"minutes?|seconds?|decades?|centur(y|ies)|seasons?|miles?|yards?|feet|foot|inch(es)?|"
        r"ft|km|kilomet(re|er)s?|metres?|meters?|cm|mm|(?-i:mi|hrs?|mins?|secs?))\b",
        re.I,
    ),
    "quantity": re.compile(rf"\d|\b({NUMBER_WORDS})\b", re.I),
    "date": re.compile(
        rf"\b((1[89]|20)\d\d|(1[89]|20)\d0'?s|{MONTHS}|{WEEKDAYS}|yesterday|today|tomorrow|"
        r"(last|next|this|earlier|later) (week|month|year|season|spring|summer|autumn|winter)|"
        r"the (spring|summer|autumn|winter)|"
        r"\d+ (days?|weeks?|months?|years?) (ago|later|earlier)|the \d\d?(st|nd|rd|th)|"
        r"q[1-4]|h[12]|fy ?\d\d(\d\d)?|(first|second|third|fourth|final|last) quarter|"
        r"\d\d?(?P<sep>[./-])\d\d?(?P=sep)\d\d(\d\d)?)\b",
        re.I,
    ),
    "reason": re.compile(
        r"\b(because|due to|as a result|since|amid|following|blam(e|ed|es|ing)|reasons?|"
        r"so that|in order to|caus(e|ed|es|ing)|led to|thanks to|owing to|after|"
        r"concerns?|fears?|factors?|worr(y|ied|ies)|aimed at|in a bid to|to (help|avoid|protect|"
        r"meet|reduce|boost|cut|ensure|prevent|stop)|on (\w+ ){1,2}grounds|"
        r"for (\w+ly )?\w+ing)\b",
        re.I,
    ),
}
CAPITALISED = re.compile(r"\b[A-Z][\w'.-]*(?:\s+(?:of|de|van|von|the)?\s*[A-Z][\w'.-]*)*")

WHAT_NOUNS = {
    "money": r"price|cost|fee|fine|salary|sum|amount|value|worth|budget|bill|deal|bid|offer|"
    r"revenue|profit|loss|sales|turnover|pay|wage",
    "percent": r"percentage|share|proportion|rate of|growth rate",
    "quantity": r"rate|figure|total|number|level|score|margin|size|ratio",
    "date": r"year|date|day|month|time|season",
}


MONEY_VERBS = (
    r"cost|costs|pay|paid|spend|spent|worth|price|raise|raised|make|made|earn|earned|sell|sold|"
    r"buy|bought|bid|offer|fine|fined|charge|fund|invest|owe|lose|lost|money|cash|bill|budget|"
    r"take|took|gross|grossed"
)
RULES: list[tuple[str, str]] = [
    # (pattern, kind): the earliest match in the question decides; ties go to the first rule.
    (rf"\bhow much\b(?=[^?]*\b({MONEY_VERBS})\b)", "money"),
    (rf"\bwhat (was |is |were |are |will be )?(the )?({WHAT_NOUNS['money']})\b", "money"),
    (r"\bwhat (did|does|do|will|would)\b[^?]*\bcost\b", "money"),
    (
        r"\bby how much\b|\bhow much (did|has|have|will) [^?]* (grow|rise|fall|increase|drop)",
        "percent",
    ),
    (rf"\bwhat ({WHAT_NOUNS['percent']})\b", "percent"),
    (r"\bhow many\b", "count"),
    (r"\bhow long\b", "length"),
    (r"\bhow (much|big|large|far|high|low|old|often|fast|heavy|tall)\b", "quantity"),
    (rf"\bwhat ({WHAT_NOUNS['quantity']}|distance|speed|time|score)\b", "quantity"),
    (
        rf"^(\w+ ){{0,3}}when\b|\bwhat ({WHAT_NOUNS['date']})\b|\bhow soon\b|"
        r"\bwhich (year|day|month|date)\b|\bsince when\b",
        "date",
    ),
    (
        r"\bwhy\b|\bwhat (made|makes|caused|causes|led|prompted|was behind|is behind)\b|"
        r"\bhow come\b|\bwhat (was|is) it about\b|"
        r"\bwhat('s| is| was) (thought|said|believed) to have caused\b",
        "reason",
    ),
    (r"\bwho(m|se|'s)?\b", "person"),
    (
        r"\bwhich\b|\bwhere\b|\bwhat('s| is| was| are| were)? (the )?(\w+ ){0,2}(company|firm|"
        r"team|country|album|film|band|group|name|title|club|city|town|show|song|book|game|"
        r"product|party|bank|race|award|nickname|brand|organisation|organization)\b|"
        r"\bcalled\b",
        "entity",
    ),
]


@lru_cache(maxsize=1024)
def answer_type(question: str) -> str:
    """The kind of answer a question wants: money, percent, count, quantity, length (a span of
    time or distance), date, reason, person, entity or other. The question's first
    interrogative phrase decides."""
    q = question.lower()
    found = []
    for order, (pattern, kind) in enumerate(RULES):
        match = re.search(pattern, q)
        if match:
            found.append((match.start(), order, kind))
    return min(found)[2] if found else "other"


def holds(sentence: str, kind: str, question: str) -> float:
    """How far a sentence holds the kind of thing the question asks for, beyond the question's
    own words: 1.0 for a sum, count, date or reason; for names, the share of the names wanted
    (one, or three when the question asks for a plural: "which countries")."""
    if kind in PATTERNS or kind == "money":
        pattern = money_pattern() if kind == "money" else PATTERNS[kind]
        asked = question_forms(kind, question)[0]
        return float(any(m.group(0).lower() not in asked for m in pattern.finditer(sentence)))
    if kind in ("person", "entity"):
        asked, wanted = question_forms(kind, question)
        new = {
            name
            for name in CAPITALISED.findall(sentence)
            if {w.lower() for w in re.findall(r"\w+", name)} - asked
            # a sentence-initial capital is a name only when another capital follows it
            and (" " in name.strip() or not sentence.startswith(name))
        }
        return min(len(new), wanted) / wanted
    return 1.0


@lru_cache(maxsize=256)
def question_forms(kind: str, question: str) -> tuple[frozenset[str], int]:
    """What `holds` reads from the question, once per question and kind: the things of that
    kind it names itself (lower-cased; its words, for names) and how many names it wants."""
    if kind in PATTERNS or kind == "money":
        pattern = money_pattern() if kind == "money" else PATTERNS[kind]
        return frozenset(m.group(0).lower() for m in pattern.finditer(question)), 1
    words = frozenset(w.lower() for w in re.findall(r"\w+", question))
    return words, 3 if any(is_plural(noun) for noun in focus_nouns(question)) else 1


OUTCOME = re.compile(r"\b(eventually|finally|ultimately|in the end|end(s|ed)? up)\b", re.I)
PROSPECTIVE = re.compile(
    r"\b(will|would|could|might|may|shall|yet to|yet been|(is|are) to be|set to|expected to|"
    r"hop(e|es|ed|eful|ing)|plans? to|likely|favourites?)\b"
)


def asks_outcome(question: str) -> bool:
    """The question asks how something turned out ("who was eventually chosen")."""
    return bool(OUTCOME.search(question))


def looks_ahead(sentence: str) -> bool:
    """The sentence speaks of what is still to come: expected, hoped for, in the running."""
    return bool(PROSPECTIVE.search(sentence))


def is_plural(noun: str) -> bool:
    """A rough English plural test, good enough for the nouns questions ask about."""
    noun = noun.lower()
    return noun.endswith("s") and not noun.endswith(("ss", "us", "is", "news"))


def key_terms(question: str) -> set[str]:
    """Stemmed terms of the names and numbers in a question (capitalised words past its first
    word, and digits): an article that lacks them does not answer it."""
    from newsdesk.index.lexical import terms

    words = question.split()
    named = [
        w for i, w in enumerate(words) if (i > 0 and w[:1].isupper()) or any(c.isdigit() for c in w)
    ]
    return set(terms(" ".join(named)))


FOCUS = re.compile(r"\b(?:which|what|whose|how many)\s+(?:of the\s+)?([a-z][\w-]*)", re.I)
NOT_NOUNS = frozenset(
    """
    is was are were did does do has had have will would can could should the a an of to it they
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


def focus_nouns(question: str) -> list[str]:
    """The nouns right after which/what/whose/how many: what kind of thing is asked for."""
    return [m for m in FOCUS.findall(question) if m.lower() not in NOT_NOUNS]
