"""The one error type built-in functions raise for bad arguments."""


class BuiltinError(ValueError):
    """A built-in was called with arguments it cannot work with; the message says why, in words."""
