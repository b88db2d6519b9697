"""Newsdesk's knowledge base: read articles, sync them into Chroma, answer with citations."""
