"""Errors a user can act on. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class FaceFeedbackError(Exception):
    """Base class: a known problem with the user's input, config or environment."""

    exit_code = 2


class InputError(FaceFeedbackError):
    """An input file is missing, unreadable, corrupt or of a kind that is not supported."""


class ConfigError(FaceFeedbackError):
    """A config or study file holds a value that is not allowed."""


class ValidationError(FaceFeedbackError):
    """Several problems found at once; ``problems`` holds one line each."""

    def __init__(self, problems: list[str], header: str = "") -> None:
        self.problems = list(problems)
        text = "\n".join(self.problems)
        super().__init__(f"{header}\n{text}" if header else text)


class AnalysisError(FaceFeedbackError):
    """The data cannot support the requested analysis (missing scale, too few participants...)."""


class NotEstimable(AnalysisError):
    """A model's estimates or tests are not defined on these data (no variance, collinear terms)."""
