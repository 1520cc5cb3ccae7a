"""`python -m imagier.cli`, the same as the `imagier` command."""

from .base import main

main()
