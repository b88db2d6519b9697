"""The `newsdesk` command line (`newsdesk.cli`): the front end over the core (`index`), the
HTTP API (`api`) and the Discord bot (`bot`)."""
