"""The project's own exceptions. Each message is one sentence a user can act on."""


class NewsdeskError(Exception):
    """Base class: anything Newsdesk reports to a user as a plain sentence.

    `public`, when a class sets it, is what a remote client is told instead: the message
    itself may name paths, process ids or server addresses, which only the log should show.
    """

    public: str | None = None
    exit_code: int = 1
    """The exit status of a command this error ends."""

    def for_clients(self) -> str:
        """The message for someone on the other side of the network."""
        return self.public or str(self)


class ConfigError(NewsdeskError):
    """A setting is missing, malformed or inconsistent."""

    public = "the server is misconfigured; its log says how to fix it"


class DiscordRefused(ConfigError):
    """Discord refused the bot's set-up (token, intents, slash commands) at start-up."""

    exit_code = 78  # EX_CONFIG (sysexits.h): restarting will not help until a setting changes


class SourceNotFound(NewsdeskError):
    """A path given as an article source does not exist."""

    public = "an article folder or file the server was told to read is missing; its log names it"


class IndexLocked(NewsdeskError):
    """Another process is already writing to this index."""

    public = "another Newsdesk process is writing to this index; try again when it has finished"


class ModelMismatch(NewsdeskError):
    """The index was built with a different embedding model than the one configured."""

    public = "the index was built with another embedding model; its log says how to fix it"


class StoreUnavailable(NewsdeskError):
    """The vector store (e.g. a Chroma server) cannot be reached."""

    public = "the vector store cannot be reached; try again shortly"


class ArticleNotFound(NewsdeskError):
    """No article with the requested id is indexed."""


class InvalidArticle(NewsdeskError):
    """An article sent for indexing is empty or malformed."""


class InvalidQuestion(NewsdeskError):
    """A question is empty or too long."""


class LLMUnavailable(NewsdeskError):
    """The LLM server of LLM answer mode cannot be reached or failed to answer."""

    public = "the language model cannot answer right now; try again shortly"


class ConversationNotFound(NewsdeskError):
    """No conversation with this id exists (never made, deleted, or expired)."""
