"""`python -m index` runs the `newsdesk` command."""

from index.cli import main

main()
