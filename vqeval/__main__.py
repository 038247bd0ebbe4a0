"""``python -m vqeval`` runs the ``vqeval`` command."""

from vqeval.cli import main

main()
