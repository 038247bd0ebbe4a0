"""``python -m vqeval.cli`` runs the ``vqeval`` command."""

from vqeval.cli import main

main()
