"""`python -m imagier.cli`, the same as the `imagier` command."""

from . import main

main()
