"""Errors about the user's input, reported as one clear line and exit code 2 by the CLI."""

from __future__ import annotations

import re

__all__ = ["InputError", "ParameterError", "printable"]

#: Control characters (C0 but tab, DEL, C1) and the Unicode line and bidirectional controls:
#: what a terminal would act on instead of showing.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e"
                      "\u2066-\u2069]")


def printable(text: object, lines: bool = False) -> str:
    """``text`` safe to print to a terminal: every control character (escape sequences that
    clear the screen, retitle the window or recolour it; new lines and carriage returns that
    would forge another line) shown as its escape (``\\x1b``, ``\\n``) instead. With
    ``lines``, the text's own line breaks stay (a table, a summary of several lines)."""
    if lines:
        return "\n".join(printable(line) for line in str(text).split("\n"))
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"),
                        str(text))


class InputError(Exception):
    """Bad user input: a file that is missing, malformed, or holds a wrong key or value.

    Parameters
    ----------
    source : str
        The file (or ``--set``, or another origin) the input came from.
    key : str
        The key path inside it (``interventions[1].grant_share``); empty if the whole
        input is bad.
    message : str
        What is wrong and what is allowed.
    """

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.message = str(source), key, message
        where = f"{self.source}: {key}" if key else self.source
        super().__init__(printable(f"{where}: {message}"))


class ParameterError(ValueError):
    """A parameter value that is unknown, of the wrong type or out of range.

    The message names the parameter, the bad value and what is allowed; ``key`` holds the
    parameter's path so that file loaders can prefix it with their own location.
    """

    def __init__(self, key: str, message: str):
        super().__init__(printable(f"{key}: {message}"))
        self.key = key
        self.detail = message
