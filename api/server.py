"""`newsdesk serve`: run the API under uvicorn."""

from __future__ import annotations

import os
from typing import Any

from newsdesk.index import ConfigError, Settings, SourceNotFound

SERVER_ENV = {"OMP_NUM_THREADS": "1"}
"""Set (unless already set) before torch loads. Each request runs in its own thread; torch's
default of one OpenMP thread per core for every call oversubscribes the cores. Measured on 2
busy cores, BBC index, asking from worker threads: p50 730 ms by default, 210 ms with one."""


def serve(settings: Settings) -> None:
    """Check the settings `serve` depends on, then serve until interrupted."""
    for name, value in SERVER_ENV.items():
        os.environ.setdefault(name, value)
    import uvicorn

    from newsdesk.api.app import create_app
    from newsdesk.api.logs import LOG_CONFIG

    if settings.watch and not settings.articles_dirs:
        raise ConfigError(
            "--watch needs article folders: set NEWSDESK_ARTICLES_DIRS=folder[,folder…]"
        )
    for folder in settings.articles_dirs:
        if not folder.is_dir():
            raise SourceNotFound(f"NEWSDESK_ARTICLES_DIRS names a missing folder: {folder}")
    uvicorn.run(create_app(settings), log_config=LOG_CONFIG, **server_options(settings))


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the app: h11, whose parser bounds the request head at
    `max_header_bytes` (httptools reads any size), and no proxy headers of its own: the app
    believes X-Forwarded-For only from NEWSDESK_TRUSTED_PROXIES (api.app)."""
    return {
        "host": settings.api_host,
        "port": settings.api_port,
        "access_log": False,
        "http": "h11",
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "proxy_headers": False,
    }
