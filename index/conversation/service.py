"""Asking within a conversation: resolve a follow-up against the earlier turns, answer the
standalone question, and store the turn. The API, the web page, the CLI and `eval` use it."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from newsdesk.index.answer.models import NOT_FOUND, Answer
from newsdesk.index.conversation.followup import Resolution, Resolver
from newsdesk.index.conversation.store import ConversationStore, Turn, new_id
from newsdesk.index.engine import Engine, checked
from newsdesk.index.retrieval import ArticleHit, Filters

DAY = 86_400.0


class ConversationAnswer(Answer):
    """An answer within a conversation: `question` as asked, `searched` as understood."""

    conversation_id: str = Field(description="Send it back with the next question.")
    searched: str = Field(description="The standalone question actually searched.")


class Conversations:
    """Conversations over one engine, stored in its Chroma client (`write_behind`: turns are
    written in the background, see ConversationStore)."""

    def __init__(self, engine: Engine, write_behind: bool = False) -> None:
        settings = engine.settings
        self.engine = engine
        self.store = ConversationStore(
            engine.chroma_client,
            settings.collection,
            settings.conversation_ttl_days * DAY,
            settings.conversation_max_turns,
            write_behind,
        )
        self.resolver = Resolver(engine)

    def turns(self, conversation_id: str) -> list[Turn]:
        """The conversation's turns, oldest first (ConversationNotFound if none)."""
        return self.store.turns(conversation_id)

    def delete(self, conversation_id: str) -> None:
        self.store.delete(conversation_id)

    def close(self) -> None:
        """Write the turns still queued."""
        self.store.close()

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
        return self.keep(question, answer, conversation_id, earlier)

    def ask_stream(
        self,
        question: str,
        conversation_id: str | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
    ) -> Iterator[str | ConversationAnswer]:
        """`ask` as it happens: the model's draft text as it is written (LLM mode; unverified),
        then the ConversationAnswer, stored as `ask` stores it."""
        question = checked(question)
        earlier = self.store.turns(conversation_id) if conversation_id else []
        if earlier:
            resolution = self.resolver.resolve(question, earlier)
            found = self.sources(resolution, top_k or self.engine.settings.top_k, filters)
            if found is None:
                pieces: Iterator[str | Answer] = iter([not_found(resolution.searched)])
            else:
                pieces = self.engine.answerer.stream(
                    resolution.searched, *found, asked=resolution.asked
                )
        else:  # a first turn is any question asked alone
            pieces = self.engine.ask_stream(question, top_k, filters)
        for piece in pieces:
            if isinstance(piece, str):
                yield piece
            else:
                yield self.keep(question, piece, conversation_id, earlier)

    def keep(
        self, question: str, answer: Answer, conversation_id: str | None, earlier: list[Turn]
    ) -> ConversationAnswer:
        """Store the turn (in a new conversation when no id is given); the answer as asked."""
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
        found = self.sources(resolution, top_k or self.engine.settings.top_k, filters)
        if found is None:
            return not_found(resolution.searched), 0.0
        return self.engine.answerer.assess(resolution.searched, *found, asked=resolution.asked)

    def sources(
        self, resolution: Resolution, top_k: int, filters: Filters | None
    ) -> tuple[list[ArticleHit], dict[str, str], int, list[float]] | None:
        """What the answerer reads for a resolved question: the articles retrieved for it,
        favouring those it carries over, their texts, `top_k` and the embedding of the
        question searched; None when nothing was found."""
        engine = self.engine
        made = resolution.vectors
        query, searched = resolution.query, resolution.searched
        hits, texts, embedding = engine.retrieve(query, top_k, filters, made.get(query))
        if not hits:
            return None
        if query != searched:
            embedding = made.get(searched) or engine.embed_query(searched)
        return resolution.rerank(hits), texts, top_k, embedding


def not_found(question: str) -> Answer:
    """The refusal when retrieval finds nothing."""
    return Answer(question=question, answer=NOT_FOUND, answered=False)
