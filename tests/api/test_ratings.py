"""POST /feedback keeps one rating per user and answer when a front end names both (the Discord
bot does: X-Newsdesk-User and the answer's conversation and turn), whatever it remembers."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.api.feedback import SCHEMA, FeedbackStore
from newsdesk.api.schemas import FeedbackIn
from newsdesk.index.config import Settings
from tests.support.api_support import api_settings

SERVICE = "service-token-for-the-rating-tests"
RATING = {"rating": "up", "question": "How much?", "answer": "84 million pounds."}
ANSWER = {"conversation_id": "kP3x9vQm2TQe1rWq0aZ8Yw", "turn": 0}


def by(user: str | None) -> dict[str, str]:
    """The headers of a front end rating on behalf of `user` (None: anonymously)."""
    if user is None:
        return {}
    return {"X-Newsdesk-User": user, "Authorization": f"Bearer {SERVICE}"}


def test_a_user_rates_an_answer_once(fake_settings: Settings) -> None:
    app = create_app(api_settings(fake_settings, service_token=SERVICE))
    with TestClient(app) as client:

        def rate(body: dict[str, object], user: str | None) -> int:
            return client.post("/feedback", json=body, headers=by(user)).status_code

        first = rate({**RATING, **ANSWER}, "discord:1")
        again = rate({**RATING, **ANSWER, "rating": "down"}, "discord:1")
        other_user = rate({**RATING, **ANSWER}, "discord:2")
        next_turn = rate({**RATING, **ANSWER, "turn": 1}, "discord:1")
        unnamed_answer = [rate(RATING, "discord:1") for _ in range(2)]
        anonymous = [rate({**RATING, **ANSWER}, None) for _ in range(2)]
        refused = client.post("/feedback", json={**RATING, **ANSWER}, headers=by("discord:1"))
        stored = app.state.runtime.feedback.recent(100, 0)
    assert (first, again, other_user, next_turn) == (201, 409, 201, 201)
    assert unnamed_answer == anonymous == [201, 201]
    assert refused.json()["detail"] == "this user already rated this answer"
    assert len(stored) == 7
    assert (stored[-1].conversation_id, stored[-1].turn) == (ANSWER["conversation_id"], 0)


def test_a_feedback_file_from_before_raters_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(SCHEMA)
        db.execute(
            "INSERT INTO feedback (created_at, rating, question, answer, citations)"
            " VALUES ('2026-11-01T10:00:00+00:00', 'down', 'Old?', 'Old.', '[]')"
        )
    store = FeedbackStore(path, max_bytes=10_000_000)
    store.add(FeedbackIn.model_validate({**RATING, **ANSWER}), rater="user:discord:1")
    newest, old = store.recent(10, 0)
    assert (old.question, old.conversation_id, old.turn) == ("Old?", None, None)
    assert newest.conversation_id == ANSWER["conversation_id"]
