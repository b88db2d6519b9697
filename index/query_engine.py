"""Newsdesk as a LlamaIndex query engine: hybrid retrieval, then an answerer's synthesis.

`query()` returns a LlamaIndex `Response` whose text is the answer (with [n] markers), whose
`source_nodes` are the cited chunks (citation order, one per citation), and whose metadata
carries Newsdesk's `Answer` ("answer") and the answerer's confidence ("confidence").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from newsdesk.index.answer.base import Answerer
from newsdesk.index.answer.models import NOT_FOUND, Answer, Citation
from newsdesk.index.retrieval import ArticleHit, articles_of
from newsdesk.index.when import TimePreference

Texts = Callable[[list[str]], dict[str, str]]


class NewsdeskQueryEngine(BaseQueryEngine):
    """Retrieve with any LlamaIndex retriever of article chunks, answer with an `Answerer`."""

    def __init__(
        self,
        retriever: BaseRetriever,
        answerer: Answerer,
        texts: Texts,
        top_k: int,
        callback_manager: CallbackManager | None = None,
        time: TimePreference | None = None,
    ) -> None:
        super().__init__(callback_manager)
        self.retriever = retriever
        self.answerer = answerer
        self.texts = texts
        """Full article texts by id (the answerer reads whole articles, not only chunks)."""
        self.top_k = top_k
        """Cite at most this many articles."""
        self.time = time
        """Reorders the articles by what the question says about time (index.when)."""

    def _get_prompt_modules(self) -> PromptMixinType:
        return {}

    def retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """The retrieved chunks, best first (the question's embedding is set on the bundle)."""
        return self.retriever.retrieve(query_bundle)

    def synthesize(
        self,
        query_bundle: QueryBundle,
        nodes: list[NodeWithScore],
        additional_source_nodes: Sequence[NodeWithScore] | None = None,
    ) -> Response:
        """The answerer's answer from the retrieved chunks' articles, as a Response."""
        question = query_bundle.query_str
        sources = self.sources(question, nodes)
        if sources is None:
            return response(Answer(question=question, answer=NOT_FOUND, answered=False), [], 0.0)
        hits, texts, asked = sources
        answer, confidence = self.answerer.assess(
            asked, hits, texts, self.top_k, query_bundle.embedding
        )
        answer.question = question
        return response(answer, hits, confidence)

    def stream(self, question: str) -> Iterator[str | Answer]:
        """`query` as it happens: the answerer's draft text as it is written (LLM mode), then
        the Answer."""
        bundle = QueryBundle(question)
        sources = self.sources(question, self.retrieve(bundle))
        if sources is None:
            yield Answer(question=question, answer=NOT_FOUND, answered=False)
            return
        hits, texts, asked = sources
        for piece in self.answerer.stream(asked, hits, texts, self.top_k, bundle.embedding):
            if isinstance(piece, Answer):
                piece.question = question
            yield piece

    def sources(
        self, question: str, nodes: list[NodeWithScore]
    ) -> tuple[list[ArticleHit], dict[str, str], str] | None:
        """The retrieved chunks' articles (ordered by what the question says about time),
        their texts, and the question as the answerer reads it; None when nothing was found."""
        hits = articles_of(nodes)
        if not hits:
            return None
        texts = self.texts([h.article_id for h in hits])
        asked = question
        if self.time is not None:
            hits, when = self.time.apply(question, hits, texts)
            asked = when.without_words(question)  # a period the articles' dates answer
        return hits, texts, asked

    def _query(self, query_bundle: QueryBundle) -> Response:
        return self.synthesize(query_bundle, self.retrieve(query_bundle))

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return await asyncio.to_thread(self._query, query_bundle)


def response(answer: Answer, hits: list[ArticleHit], confidence: float | None) -> Response:
    """A LlamaIndex Response for `answer`: its source nodes are the cited chunks."""
    by_id = {h.article_id: h for h in hits}
    cited = [c for c in answer.citations if c.article_id in by_id]
    sources = [cited_chunk(c, by_id[c.article_id]) for c in cited]
    return Response(
        response=answer.answer,
        source_nodes=sources,
        metadata={"answer": answer, "confidence": confidence},
    )


def cited_chunk(citation: Citation, hit: ArticleHit) -> NodeWithScore:
    """The retrieved chunk of a cited article that holds its quote (else its best chunk),
    scored as the citation."""
    chunk = next((c for c in hit.chunks if citation.quote in c.text), hit.chunks[0])
    node = TextNode(id_=chunk.chunk_id, text=chunk.text, metadata=chunk.metadata)
    return NodeWithScore(node=node, score=citation.score)


def answer_of(result: Response) -> Answer:
    """Newsdesk's Answer carried by a Response of NewsdeskQueryEngine."""
    return (result.metadata or {})["answer"]
