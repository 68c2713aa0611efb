"""Subcommands of the ``facefeedback`` command, one module each (see ``facefeedback.cli``)."""
