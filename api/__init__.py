"""HTTP API over the Newsdesk engine (FastAPI)."""
