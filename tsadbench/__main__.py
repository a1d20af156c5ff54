"""``python -m tsadbench``: the same as the ``tsadbench`` command."""

from tsadbench.cli import main

main()
