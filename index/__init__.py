"""Newsdesk's knowledge base: read articles, sync them into Chroma, answer with citations.

This package root is the facade the CLI, the API, the bot and the benchmarks use: everything
they need is importable from `newsdesk.index` (a test checks that they import nothing deeper). Names
load on first use, so `import index` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "newsdesk.index.engine": ("Engine", "MAX_QUESTION_CHARS"),
    "newsdesk.index.config": ("Settings",),
    "newsdesk.index.articles": (
        "Article",
        "KNOWN_KEYS",
        "SUPPORTED_SUFFIXES",
        "from_record",
        "id_problem",
        "normalise_date",
    ),
    "newsdesk.index.answer.models": ("NOT_FOUND", "Answer", "Citation"),
    "newsdesk.index.answer.base": ("Answerer",),
    "newsdesk.index.query_engine": ("NewsdeskQueryEngine", "answer_of"),
    "newsdesk.index.retrieval": ("Filters", "HybridRetriever"),
    "newsdesk.index.sync": ("API_ORIGIN", "SyncReport"),
    "newsdesk.index.store": ("read_stats", "writer_lock"),
    "newsdesk.index.conversation.service": ("ConversationAnswer", "Conversations"),
    "newsdesk.index.conversation.store": ("Turn",),
    "newsdesk.index.records": ("JsonRecords",),
    "newsdesk.index.conversation.evaluate": ("load_conversations", "run_conversations"),
    "newsdesk.index.feed_sync": ("FeedState", "feed_id", "is_url"),
    "newsdesk.index.evaluate": (
        "CHECK",
        "FIT",
        "Evaluator",
        "Outcome",
        "Question",
        "Report",
        "half",
        "load_questions",
        "refusal_curve",
    ),
    "newsdesk.index.errors": (
        "ArticleNotFound",
        "ConfigError",
        "ConversationNotFound",
        "DiscordRefused",
        "IndexLocked",
        "InvalidArticle",
        "InvalidQuestion",
        "LLMUnavailable",
        "ModelMismatch",
        "NewsdeskError",
        "SourceNotFound",
        "StoreUnavailable",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = [
    "API_ORIGIN",
    "CHECK",
    "FIT",
    "KNOWN_KEYS",
    "MAX_QUESTION_CHARS",
    "NOT_FOUND",
    "SUPPORTED_SUFFIXES",
    "Answer",
    "Answerer",
    "Article",
    "ArticleNotFound",
    "Citation",
    "ConfigError",
    "ConversationAnswer",
    "ConversationNotFound",
    "Conversations",
    "DiscordRefused",
    "Engine",
    "Evaluator",
    "FeedState",
    "Filters",
    "HybridRetriever",
    "IndexLocked",
    "InvalidArticle",
    "InvalidQuestion",
    "JsonRecords",
    "LLMUnavailable",
    "ModelMismatch",
    "NewsdeskError",
    "NewsdeskQueryEngine",
    "Outcome",
    "Question",
    "Report",
    "Settings",
    "SourceNotFound",
    "StoreUnavailable",
    "SyncReport",
    "Turn",
    "answer_of",
    "feed_id",
    "from_record",
    "half",
    "id_problem",
    "is_url",
    "load_conversations",
    "load_questions",
    "normalise_date",
    "read_stats",
    "refusal_curve",
    "run_conversations",
    "writer_lock",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from newsdesk.index.answer.base import Answerer
    from newsdesk.index.answer.models import NOT_FOUND, Answer, Citation
    from newsdesk.index.articles import (
        KNOWN_KEYS,
        SUPPORTED_SUFFIXES,
        Article,
        from_record,
        id_problem,
        normalise_date,
    )
    from newsdesk.index.config import Settings
    from newsdesk.index.conversation.evaluate import load_conversations, run_conversations
    from newsdesk.index.conversation.service import ConversationAnswer, Conversations
    from newsdesk.index.conversation.store import Turn
    from newsdesk.index.engine import MAX_QUESTION_CHARS, Engine
    from newsdesk.index.errors import (
        ArticleNotFound,
        ConfigError,
        ConversationNotFound,
        DiscordRefused,
        IndexLocked,
        InvalidArticle,
        InvalidQuestion,
        LLMUnavailable,
        ModelMismatch,
        NewsdeskError,
        SourceNotFound,
        StoreUnavailable,
    )
    from newsdesk.index.evaluate import (
        CHECK,
        FIT,
        Evaluator,
        Outcome,
        Question,
        Report,
        half,
        load_questions,
        refusal_curve,
    )
    from newsdesk.index.feed_sync import FeedState, feed_id, is_url
    from newsdesk.index.query_engine import NewsdeskQueryEngine, answer_of
    from newsdesk.index.records import JsonRecords
    from newsdesk.index.retrieval import Filters, HybridRetriever
    from newsdesk.index.store import read_stats, writer_lock
    from newsdesk.index.sync import API_ORIGIN, SyncReport
