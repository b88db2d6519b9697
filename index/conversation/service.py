"""Asking within a conversation: resolve a follow-up against the earlier turns, answer the
standalone question, and store the turn. The API, the web page, the CLI and `eval` use it."""

from __future__ import annotations

from pydantic import Field

from newsdesk.index.answer.models import NOT_FOUND, Answer
from newsdesk.index.conversation.followup import Resolution, Resolver
from newsdesk.index.conversation.store import ConversationStore, Turn, new_id
from newsdesk.index.engine import Engine, checked
from newsdesk.index.retrieval import Filters

DAY = 86_400.0


class ConversationAnswer(Answer):
    """An answer within a conversation: `question` as asked, `searched` as understood."""

    conversation_id: str = Field(description="Send it back with the next question.")
    searched: str = Field(description="The standalone question actually searched.")


class Conversations:
    """Conversations over one engine, stored in its Chroma client."""

    def __init__(self, engine: Engine) -> None:
        settings = engine.settings
        self.engine = engine
        self.store = ConversationStore(
            engine.chroma_client,
            settings.collection,
            settings.conversation_ttl_days * DAY,
            settings.conversation_max_turns,
        )
        self.resolver = Resolver(engine)

    def turns(self, conversation_id: str) -> list[Turn]:
        """The conversation's turns, oldest first (ConversationNotFound if none)."""
        return self.store.turns(conversation_id)

    def delete(self, conversation_id: str) -> None:
        self.store.delete(conversation_id)

    def ask(
        self,
        question: str,
        conversation_id: str | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
    ) -> ConversationAnswer:
        """Answer `question` within the conversation (a new one when no id is given) and
        store the turn; an unknown or expired id raises ConversationNotFound."""
        question = checked(question)
        earlier = self.store.turns(conversation_id) if conversation_id else []
        if earlier:
            answer, _ = self.assess(question, earlier, top_k, filters)
        else:  # a first turn is any question asked alone
            answer = self.engine.ask(question, top_k, filters)
        if conversation_id is None:
            conversation_id = new_id()
            self.store.purge_now_and_then()
        self.store.append(conversation_id, Turn.of(question, answer), earlier=len(earlier))
        return ConversationAnswer(
            **answer.model_dump(exclude={"question"}),
            question=question,
            conversation_id=conversation_id,
            searched=answer.question,
        )

    def assess(
        self,
        question: str,
        earlier: list[Turn],
        top_k: int | None = None,
        filters: Filters | None = None,
    ) -> tuple[Answer, float | None]:
        """The answer to `question` after the `earlier` turns (its `question` is the one
        searched) and the answerer's confidence (None in LLM mode)."""
        question = checked(question)
        if not earlier:
            return self.engine.assess(question, top_k, filters)
        resolution = self.resolver.resolve(question, earlier)
        return self.answer(resolution, top_k or self.engine.settings.top_k, filters)

    def answer(
        self, resolution: Resolution, top_k: int, filters: Filters | None
    ) -> tuple[Answer, float | None]:
        """Retrieve for the standalone question, favouring the articles it carries over,
        and answer it as `Engine.assess` does."""
        engine = self.engine
        hits, texts, embedding = engine.retrieve(resolution.query, top_k, filters)
        if not hits:
            return Answer(question=resolution.searched, answer=NOT_FOUND, answered=False), 0.0
        hits = resolution.rerank(hits)
        if resolution.query != resolution.searched:
            embedding = engine.embed_query(resolution.searched)
        return engine.answerer.assess(resolution.searched, hits, texts, top_k, embedding)
