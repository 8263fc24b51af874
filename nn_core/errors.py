"""Errors that mean "the user gave us something we cannot use".

Each carries one plain sentence that says what is wrong and how to fix it. The CLI prints it as
`error: <message>` (exit status 2); the app shows it with `st.error`. Anything that is *not* a
`UserError` is a bug in this project.
"""


class UserError(ValueError):
    """Bad input from a person: the message is shown to them as it is."""


class DataError(UserError):
    """A CSV file or an image that cannot be used as digits."""


class ConfigError(UserError):
    """A setting (layer sizes, learning rate, ...) that is out of range or malformed."""


class ModelFileError(UserError):
    """A saved model that cannot be read or does not fit."""


class LimitError(UserError):
    """A request over one of the host's caps (parameters, epochs, rows, wall time)."""
