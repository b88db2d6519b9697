"""A stand-in LLM server for the LLM answer mode's tests: no model, the real wire protocols.

It speaks OpenAI's chat API (`POST /v1/chat/completions`, whole or streamed as SSE `data:`
chunks ending in `data: [DONE]`; `GET /v1/models`) and Ollama's (`POST /api/chat`, whole or
streamed as NDJSON), records every request, and decides its reply from the prompt: by default
the sentence of source [1] sharing most words with the question, marked [1]; the refusal
sentence when the question mentions a unicorn. A test may set `reply` to script other replies
(bogus markers, fake quotes, injected links) or `fail` to make it answer 500.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from newsdesk.index.answer.models import NOT_FOUND
from tests.support.api_support import free_port, wait_for

MODEL = "stand-in"
FENCED = re.compile(
    r"=====BEGIN SOURCE \[(\d+)\] (\w+)=====\n(.*?)\n=====END SOURCE \[\1\] \2=====", re.DOTALL
)


@dataclass
class Prompt:
    """What a chat request asked, as the stand-in reads it."""

    system: str
    user: str
    question: str
    sources: dict[int, str]
    """Fenced text of each numbered source (header lines and article text)."""

    def article(self, n: int) -> str:
        """The article text of source n (after its `Text:` line)."""
        return self.sources[n].split("\nText:\n", 1)[-1]


def read_prompt(messages: list[dict[str, Any]]) -> Prompt:
    """Parse the system and user messages the answerer sent."""

    def text(message: dict[str, Any]) -> str:
        content = message.get("content") or ""
        if isinstance(content, list):  # OpenAI's content parts
            return "".join(part.get("text", "") for part in content)
        return str(content)

    system = "\n".join(text(m) for m in messages if m.get("role") == "system")
    user = "\n".join(text(m) for m in messages if m.get("role") == "user")
    question = re.search(r"^Question: (.*)$", user, re.MULTILINE)
    sources = {int(m.group(1)): m.group(3) for m in FENCED.finditer(user)}
    return Prompt(system, user, question.group(1) if question else "", sources)


COMMON = frozenset(
    re.findall(
        r"\w+", "a an and are did do does for how in is much of on the to was what when will"
    )
)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower())) - COMMON


def best_sentence(prompt: Prompt, n: int = 1) -> str:
    """The sentence of source n sharing most words with the question."""
    sentences = re.split(r"(?<=[.!?])\s+", prompt.article(n).replace("\n", " "))
    return max(sentences, key=lambda s: len(words(s) & words(prompt.question)))


def default_reply(prompt: Prompt) -> str:
    """Refuse when asked about a unicorn, else echo source [1]'s best sentence with [1]."""
    if "unicorn" in prompt.question.lower() or not prompt.sources:
        return NOT_FOUND
    return f"{best_sentence(prompt)} [1]"


@dataclass
class StandIn:
    """The running stand-in: its base URL, what it received, and how it replies."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    reply: Callable[[Prompt], str] = default_reply
    fail: bool = False
    hold: threading.Event | None = None
    """When set, a streamed reply stops after its first piece until this event is set."""
    held_too_long: bool = False

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def last_prompt(self) -> Prompt:
        return read_prompt(self.requests[-1]["messages"])


def pieces(text: str) -> list[str]:
    """Token-like pieces that join back into `text`."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


def create_stand_in(state: StandIn) -> FastAPI:
    """The stand-in's app over the shared `state`."""
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        model = {"id": MODEL, "object": "model", "created": 0, "owned_by": "tests"}
        return {"object": "list", "data": [model]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> JSONResponse | StreamingResponse:
        body = await request.json()
        state.requests.append({"path": "/v1/chat/completions", **body})
        if state.fail:
            return JSONResponse({"error": {"message": "model crashed"}}, status_code=500)
        reply = state.reply(read_prompt(body["messages"]))
        model = body.get("model", MODEL)
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "chatcmpl-stand-in",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            )

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            data = {
                "id": "chatcmpl-stand-in",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(data)}\n\n"

        def events() -> Iterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            for n, piece in enumerate(pieces(reply)):
                if n == 1 and state.hold is not None:
                    state.held_too_long = not state.hold.wait(timeout=20)
                yield chunk({"content": piece})
            yield chunk({}, "stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/api/chat", response_model=None)
    async def ollama_chat(request: Request) -> JSONResponse | StreamingResponse:
        body = await request.json()
        state.requests.append({"path": "/api/chat", **body})
        if state.fail:
            return JSONResponse({"error": "model crashed"}, status_code=500)
        reply = state.reply(read_prompt(body["messages"]))
        model = body.get("model", MODEL)
        done = {"done": True, "done_reason": "stop", "prompt_eval_count": 1, "eval_count": 1}

        def message(content: str) -> dict[str, Any]:
            return {
                "model": model,
                "created_at": "2025-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": content},
            }

        if not body.get("stream", True):
            return JSONResponse({**message(reply), **done})

        def lines() -> Iterator[str]:
            for piece in pieces(reply):
                yield json.dumps({**message(piece), "done": False}) + "\n"
            yield json.dumps({**message(""), **done}) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    return app


@contextmanager
def running_stand_in() -> Iterator[StandIn]:
    """The stand-in under uvicorn on a free loopback port, in a thread; stopped at the end."""
    import uvicorn

    port = free_port()
    state = StandIn(f"http://127.0.0.1:{port}")
    config = uvicorn.Config(
        create_stand_in(state), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def ready() -> bool:
        try:
            return httpx.get(f"{state.url}/v1/models", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, "the stand-in LLM server", timeout=30)
        yield state
    finally:
        server.should_exit = True
        thread.join(30)
