"""Turn retrieved articles into a short answer with numbered, verbatim citations."""
