"""Discord bot that asks the Newsdesk API."""
