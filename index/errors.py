"""The project's own exceptions. Each message is one sentence a user can act on."""


class NewsdeskError(Exception):
    """Base class: anything Newsdesk reports to a user as a plain sentence."""


class ConfigError(NewsdeskError):
    """A setting is missing, malformed or inconsistent."""


class SourceNotFound(NewsdeskError):
    """A path given as an article source does not exist."""


class IndexLocked(NewsdeskError):
    """Another process is already writing to this index."""


class ModelMismatch(NewsdeskError):
    """The index was built with a different embedding model than the one configured."""


class StoreUnavailable(NewsdeskError):
    """The vector store (e.g. a Chroma server) cannot be reached."""


class ArticleNotFound(NewsdeskError):
    """No article with the requested id is indexed."""


class InvalidArticle(NewsdeskError):
    """An article sent for indexing is empty or malformed."""


class InvalidQuestion(NewsdeskError):
    """A question is empty or too long."""


class LLMUnavailable(NewsdeskError):
    """The LLM server of LLM answer mode cannot be reached or failed to answer."""
