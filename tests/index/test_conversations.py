"""Conversations: the store (expiry, bounds, unknown ids), follow-up resolution, and the API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsdesk.index.answer.models import Answer, Citation
from newsdesk.index.config import Settings
from newsdesk.index.conversation.followup import Resolution, Resolver, features
from newsdesk.index.conversation.service import Conversations
from newsdesk.index.conversation.store import (
    MAX_PENDING,
    ConversationStore,
    Turn,
    new_id,
    valid_id,
)
from newsdesk.index.errors import ConversationNotFound, NewsdeskError
from newsdesk.index.retrieval import ArticleHit
from tests.support.api_support import api_settings, running_app

DAY = 86_400.0
BRIDGE = "How much will the new harbour bridge cost?"


def turn(question: str, cited: str = "world/harbour-bridge.txt") -> Turn:
    citation = Citation(
        n=1,
        article_id=cited,
        title="Council approves new harbour bridge",
        quote="The bridge will cost 84 million pounds.",
        score=1.0,
    )
    return Turn.of(
        question,
        Answer(
            question=question, answer="84 million pounds [1]", answered=True, citations=[citation]
        ),
    )


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    import chromadb

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    return ConversationStore(client, "newsdesk", ttl_seconds=30 * DAY, max_turns=3)


def test_ids_are_unguessable_and_checked() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) >= 22 and valid_id(i) for i in ids)  # 128 bits
    assert not valid_id("") and not valid_id("a/b") and not valid_id("x" * 65)


def test_turns_come_back_in_order_with_their_citations(store: ConversationStore) -> None:
    cid = new_id()
    store.append(cid, turn(BRIDGE), now=1000.0)
    store.append(cid, turn("When will it open?"), now=1001.0)
    turns = store.turns(cid, now=1002.0)
    assert [t.question for t in turns] == [BRIDGE, "When will it open?"]
    assert turns[0].citations[0].article_id == "world/harbour-bridge.txt"
    assert turns[1].time == 1001.0


def test_a_conversation_expires_after_its_last_turn(store: ConversationStore) -> None:
    cid, other = new_id(), new_id()
    store.append(cid, turn(BRIDGE), now=0.0)
    store.append(cid, turn("When will it open?"), now=20 * DAY)
    assert len(store.turns(cid, now=49 * DAY)) == 2  # 29 days after its last turn
    store.append(other, turn(BRIDGE), now=0.0)
    assert store.purge(now=31 * DAY) == 1  # `other` went; `cid` keeps even its old turn
    with pytest.raises(ConversationNotFound):
        store.turns(other, now=31 * DAY)
    with pytest.raises(ConversationNotFound, match="ask without a conversation id"):
        store.turns(cid, now=51 * DAY)
    assert store.records.count() == 0  # the expired turns are gone, not only hidden


def test_a_conversation_keeps_its_latest_turns(store: ConversationStore) -> None:
    cid = new_id()
    for i in range(5):
        store.append(cid, turn(f"question {i}"), now=float(i))
    assert [t.question for t in store.turns(cid, now=5.0)] == [f"question {i}" for i in (2, 3, 4)]


def test_a_conversation_read_with_its_count_of_turns_is_still_bounded(
    store: ConversationStore,
) -> None:
    cid = new_id()
    for i in range(5):  # as Conversations.ask appends: with the count it read before
        store.append(cid, turn(f"question {i}"), now=float(i), earlier=min(i, store.max_turns))
    assert [t.question for t in store.turns(cid, now=5.0)] == [f"question {i}" for i in (2, 3, 4)]


def test_expired_conversations_are_purged_once_an_hour_not_at_every_ask(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    purges: list[float | None] = []
    monkeypatch.setattr(store, "purge", lambda now=None: purges.append(now) or 0)
    clock = iter([1000.0, 1001.0, 1000.0 + 3599.0, 1000.0 + 3600.0])
    monkeypatch.setattr("newsdesk.index.conversation.store.time.time", lambda: next(clock))
    for _ in range(4):
        store.purge_now_and_then()
    assert purges == [1000.0, 4600.0]


def test_unknown_and_malformed_ids_are_not_found_and_delete_is_exact(
    store: ConversationStore,
) -> None:
    kept, gone = new_id(), new_id()
    store.append(kept, turn(BRIDGE))
    store.append(gone, turn(BRIDGE))
    for bad in (new_id(), "../../etc", "x" * 500, kept[:-1]):
        with pytest.raises(ConversationNotFound):
            store.turns(bad)
        with pytest.raises(ConversationNotFound):
            store.delete(bad)
    store.delete(gone)
    with pytest.raises(ConversationNotFound):
        store.turns(gone)
    assert len(store.turns(kept)) == 1


def test_the_store_outlives_its_client(tmp_path: Path) -> None:
    import chromadb

    cid = new_id()
    path = str(tmp_path / "chroma")
    ConversationStore(chromadb.PersistentClient(path=path), "nd", DAY, 10).append(cid, turn(BRIDGE))
    chromadb.api.client.SharedSystemClient.clear_system_cache()  # as a new process would
    again = ConversationStore(chromadb.PersistentClient(path=path), "nd", DAY, 10)
    assert again.turns(cid)[0].question == BRIDGE


@pytest.fixture
def behind(tmp_path: Path) -> Iterator[ConversationStore]:
    """A write-behind store, as the API's."""
    import chromadb

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    store = ConversationStore(client, "nd", ttl_seconds=DAY, max_turns=10, write_behind=True)
    yield store
    store.close()


def hold(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> tuple[threading.Event, list[int]]:
    """Make the store's Chroma writes wait until the returned event is set; the list gets the
    number of turns of each write."""
    release, writes = threading.Event(), []
    add = store.records.add

    def held(**kwargs: Any) -> None:
        release.wait(30)
        writes.append(len(kwargs["ids"]))
        add(**kwargs)

    monkeypatch.setattr(store.records, "add", held)
    return release, writes


def test_turns_written_behind_are_read_at_once_and_stored_together(
    behind: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, other = new_id(), new_id()
    release, writes = hold(behind, monkeypatch)
    behind.append(cid, turn(BRIDGE))
    behind.append(cid, turn("When will it open?"))
    behind.append(other, turn(BRIDGE))
    assert behind.records.count() == 0  # not written yet ...
    assert [t.question for t in behind.turns(cid)] == [BRIDGE, "When will it open?"]  # ... read
    release.set()
    behind.flush()
    assert writes == [3]  # one Chroma write for the three
    assert behind.records.count() == 3 and not behind.pending
    assert [t.question for t in behind.turns(cid)] == [BRIDGE, "When will it open?"]


def test_closing_writes_the_queued_turns(tmp_path: Path) -> None:
    import chromadb

    path = str(tmp_path / "chroma")
    store = ConversationStore(chromadb.PersistentClient(path=path), "nd", DAY, 10, True)
    cid = new_id()
    store.append(cid, turn(BRIDGE))
    store.close()
    chromadb.api.client.SharedSystemClient.clear_system_cache()  # as a new process would
    again = ConversationStore(chromadb.PersistentClient(path=path), "nd", DAY, 10)
    assert again.turns(cid)[0].question == BRIDGE


def test_a_conversation_deleted_while_its_turn_is_queued_stays_deleted(
    behind: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = new_id()
    release, _ = hold(behind, monkeypatch)
    behind.append(cid, turn(BRIDGE))
    threading.Timer(0.3, release.set).start()
    behind.delete(cid)  # waits for the queued write, then deletes it too
    behind.flush()
    with pytest.raises(ConversationNotFound):
        behind.turns(cid)
    assert behind.records.count() == 0


def test_a_backlog_is_written_without_waiting_the_delay(
    behind: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("newsdesk.index.conversation.store.WRITE_DELAY", 60.0)
    behind.append(new_id(), turn(BRIDGE))  # the writer now waits up to a minute for more ...
    time.sleep(0.2)
    for _ in range(MAX_PENDING - 1):  # ... unless the backlog reaches MAX_PENDING
        behind.append(new_id(), turn(BRIDGE))
    deadline = time.monotonic() + 10
    while behind.records.count() < MAX_PENDING and time.monotonic() < deadline:
        time.sleep(0.05)
    assert behind.records.count() == MAX_PENDING


def test_a_failed_background_write_is_logged_and_not_kept_in_memory(
    behind: ConversationStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(**_: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(behind.records, "add", refuse)
    cid = new_id()
    behind.append(cid, turn(BRIDGE))
    behind.flush()
    assert "could not store 1 conversation turns" in caplog.text and not behind.pending
    with pytest.raises(ConversationNotFound):
        behind.turns(cid)


# --------------------------------------------------------------------------- resolving


def test_features_see_reference_names_and_length() -> None:
    follow = features("Why did he resign?", 0.3, 0.5, 0.0)
    alone = features("Why did Finance Minister Ana Ruiz resign from her post in May?", 0.3, 0.5, 0)
    assert follow["refers"] == 1.0 and alone["refers"] == 0.0  # `her` refers to Ana Ruiz
    assert alone["names"] > follow["names"] == 0.0
    assert alone["log_words"] > follow["log_words"]


def test_rerank_puts_the_conversations_articles_first_in_retrievals_order() -> None:
    hits = [ArticleHit(a, 1.0) for a in ("a", "b", "c", "d")]
    hits[3].copies = ["old"]
    resolution = Resolution("q", "q (t)", True, 0.9, favoured=["old", "c"])
    assert [h.article_id for h in resolution.rerank(hits)] == ["c", "d", "a", "b"]
    assert Resolution("q", "q").rerank(hits) == hits


@pytest.fixture
def real_resolver(real_engine: Any, corpus: Path) -> Resolver:
    real_engine.sync([corpus])
    return Resolver(real_engine)


def test_a_follow_up_is_searched_with_the_conversations_subject(real_resolver: Resolver) -> None:
    earlier = [turn(BRIDGE)]
    for question in ("When will it open?", "Who approved it?", "And how long was the debate?"):
        resolution = real_resolver.resolve(question, earlier)
        assert resolution.follow_up, question
        assert resolution.searched == f"{question} (Council approves new harbour bridge)"
        assert resolution.favoured[0] == "world/harbour-bridge.txt"
        assert resolution.favoured == [c.article_id for c in earlier[0].citations]


def test_a_follow_ups_forms_are_embedded_in_one_pass(real_resolver: Resolver) -> None:
    import numpy as np

    resolution = real_resolver.resolve("When will it open?", [turn(BRIDGE)])
    assert resolution.follow_up
    made = resolution.vectors
    assert set(made) == {resolution.question, resolution.searched, resolution.query}
    for text, vector in made.items():  # the batch gives what one text at a time gives
        alone = real_resolver.engine.embed_query(text)
        assert np.allclose(vector, alone, atol=1e-5), text
    assert resolution.asked is not None and resolution.asked.vector == made["When will it open?"]


def test_a_question_that_stands_alone_is_left_alone(real_resolver: Resolver) -> None:
    earlier = [turn(BRIDGE)]
    for question in (
        "Where will Voltra make its 2nm chip?",
        "Which two Nigerian banks have agreed to merge to create the largest bank in Africa?",
    ):
        resolution = real_resolver.resolve(question, earlier)
        assert not resolution.follow_up and resolution.searched == question
        assert resolution.rerank([ArticleHit("x", 1.0)])[0].article_id == "x"
    assert real_resolver.resolve(BRIDGE, []).searched == BRIDGE


OBITUARY = (
    "Stage actress Mara Quill dies\n\nMara Quill, the actress who starred in the stage musical "
    "Lantern for a decade, has died aged 71. Quill died at her home in Whitby on Saturday after "
    "a short illness, her agent said. She first played the lead in Lantern in 1979 and returned "
    "to the role twice. Fellow actors paid tribute to her warmth on and off the stage. Her "
    "funeral will be held at St Hilda's church in Whitby on 14 March. Quill is survived by her "
    "husband, the set designer Tom Ashby, and two sons."
)
STRIKE = (
    "Harbour ferry strike ends\n\nThe strike by ferry crews in Portsmouth has ended after "
    "eleven days. The union said its members had voted to accept a pay rise of 4.5%. Services "
    "will return to normal on Monday, the operator Solent Link said. The dispute had stranded "
    "thousands of travellers over Easter. Union leader Dana Reyes said the deal was a victory "
    "for common sense. Solent Link lost an estimated £2m in fares during the walkout."
)


def test_a_follow_ups_own_words_choose_its_sentences(real_engine: Any, corpus: Path) -> None:
    # The standalone form repeats the headline's words, which the lead sentence holds too; the
    # fitted follow-up shift weighs the words the user typed.
    (corpus / "obituary.txt").write_text(OBITUARY, encoding="utf-8")
    (corpus / "strike.txt").write_text(STRIKE, encoding="utf-8")
    real_engine.sync([corpus])
    asking = Conversations(real_engine)
    first = asking.ask("Which musical did Mara Quill star in for a decade?")
    died = asking.ask("Where did she die?", first.conversation_id)
    assert died.searched == "Where did she die? (Stage actress Mara Quill dies)"
    assert "Whitby" in died.answer
    first = asking.ask("How long did the Portsmouth ferry strike last?")
    back = asking.ask("When will services return to normal?", first.conversation_id)
    assert back.answer.startswith("Services will return to normal on Monday")
    assert back.citations[0].article_id == "strike.txt"


# --------------------------------------------------------------------------- API


@pytest.fixture
def client(real_engine: Any, corpus: Path) -> Iterator[TestClient]:
    real_engine.sync([corpus])
    settings = api_settings(real_engine.settings)
    from newsdesk.api.app import create_app

    with TestClient(create_app(settings, engine=real_engine)) as client:
        yield client


def test_a_follow_up_over_the_api(client: TestClient) -> None:
    first = client.post("/ask", json={"question": BRIDGE}).json()
    cid = first["conversation_id"]
    assert len(cid) >= 22 and first["searched"] == BRIDGE and "84 million" in first["answer"]
    follow = client.post(
        "/ask", json={"question": "When is it expected to open?", "conversation_id": cid}
    )
    assert follow.status_code == 200, follow.text
    body = follow.json()
    assert body["conversation_id"] == cid
    assert body["searched"] != body["question"] == "When is it expected to open?"
    assert "2027" in body["answer"]
    assert body["citations"][0]["article_id"].endswith("harbour-bridge.txt")
    shown = client.get(f"/conversations/{cid}").json()
    assert shown["id"] == cid
    assert [t["question"] for t in shown["turns"]] == [BRIDGE, "When is it expected to open?"]
    assert shown["turns"][1]["searched"] == body["searched"]
    assert set(shown["turns"][0]) == {
        "question",
        "searched",
        "answer",
        "answered",
        "citations",
        "time",
    }
    assert client.delete(f"/conversations/{cid}").status_code == 204
    assert client.get(f"/conversations/{cid}").status_code == 404


def test_unknown_conversations_are_404_with_the_error_shape(client: TestClient) -> None:
    unknown = new_id()
    for response in (
        client.post("/ask", json={"question": BRIDGE, "conversation_id": unknown}),
        client.post("/ask/stream", json={"question": BRIDGE, "conversation_id": unknown}),
        client.get(f"/conversations/{unknown}"),
        client.delete(f"/conversations/{unknown}"),
    ):
        assert response.status_code == 404
        body = response.json()
        assert body["error"] == "not_found" and "ask without a conversation id" in body["detail"]
    refused = client.post("/ask", json={"question": BRIDGE, "conversation_id": "x" * 65})
    assert refused.status_code == 422


def test_the_stream_continues_a_conversation(client: TestClient) -> None:
    from tests.api.test_ask import sse_events

    cid = client.post("/ask", json={"question": BRIDGE}).json()["conversation_id"]
    events = sse_events(
        client.post(
            "/ask/stream", json={"question": "When is it expected to open?", "conversation_id": cid}
        ).text
    )
    done = events[-1][1]
    assert events[-1][0] == "done" and done["conversation_id"] == cid  # type: ignore[index]
    assert "2027" in "".join(d["text"] for k, d in events if k == "answer")  # type: ignore[index]
    assert len(client.get(f"/conversations/{cid}").json()["turns"]) == 2


def test_settings_bound_conversations(fake_settings: Settings) -> None:
    assert fake_settings.conversation_ttl_days == 30 and fake_settings.conversation_max_turns >= 2
    with pytest.raises(ValueError):
        Settings(conversation_max_turns=1, _env_file=None)
    _ = running_app  # the API helpers are shared with the other API tests


def test_eval_conversations_scores_each_turn_within_its_conversation(
    fake_settings: Settings, corpus: Path, tmp_path: Path
) -> None:
    from newsdesk.index.conversation.evaluate import load_conversations, run_conversations
    from newsdesk.index.conversation.service import Conversations
    from newsdesk.index.engine import Engine

    engine = Engine(fake_settings)
    engine.sync([corpus])
    bridge = "world/harbour-bridge.txt"
    turns = [
        {"question": BRIDGE, "article": bridge, "answers": ["84 million pounds"]},
        {"question": "When is it expected to open?", "article": bridge, "answers": ["2027"]},
        {"question": "Which unicorn opened it?", "answers": [], "unanswerable": True},
    ]
    path = tmp_path / "conversations.jsonl"
    path.write_text(json.dumps({"id": "c1", "turns": turns}) + "\n\n", encoding="utf-8")
    (conversation,) = load_conversations(path)
    outcomes = run_conversations(Conversations(engine), [conversation])
    engine.close()
    assert [o.position for o in outcomes] == [0, 1, 2]
    assert {o.outcome.id for o in outcomes} == {"c1"}  # one half for the whole conversation
    first, follow_up, last = (o.outcome for o in outcomes)
    assert first.rank == 1 and first.correct and outcomes[0].searched == BRIDGE
    assert follow_up.question == "When is it expected to open?" and not follow_up.unanswerable
    assert last.unanswerable and not last.correct
    path.write_text('{"id": "c2", "turns": [{"answers": []}]}\n', encoding="utf-8")
    with pytest.raises(NewsdeskError, match=r":1 is not a conversation object"):
        load_conversations(path)
