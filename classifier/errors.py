"""Errors that carry a message meant for the person using the tool."""


class InputError(ValueError):
    """Input the tool cannot use; the message says what was expected and what was found."""


class ModelError(RuntimeError):
    """A model folder that cannot be loaded safely; the message says why."""
