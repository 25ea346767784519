"""Subcommands of the ``selector`` CLI: one light module each (see :mod:`selector.cli`)."""
