"""Reading the user's input files safely: regular files only, of bounded size and nesting.

A scenario or experiment file is small text. A path to a device (``/dev/zero``,
``/dev/urandom``), a FIFO or a socket would be read forever, or wait forever for a writer; a
huge file would be read whole into memory; TOML nested a thousand levels deep exhausts the
parser's recursion. Each is refused with one :class:`sim.core.errors.InputError` line instead.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from sim.core.errors import InputError

__all__ = ["MAX_INPUT_BYTES", "MAX_NESTING", "read_input", "parse_toml", "read_data_table",
           "parse_value",
           "nesting", "NAME_RULE", "check_intervention_name", "check_not_varied"]

#: Largest input file read (the shipped scenarios are under 10 KiB).
MAX_INPUT_BYTES = 1 << 20
#: Deepest nesting of tables and arrays accepted in an input file (the formats use 3).
MAX_NESTING = 32


def read_input(path: str | Path, what: str = "a scenario file (TOML)") -> bytes:
    """The bytes of the regular file ``path``, at most :data:`MAX_INPUT_BYTES` of them.

    Raises
    ------
    InputError
        The path is missing, a folder, not a regular file, too large or unreadable.
    """
    source = str(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore it)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(source, "", "no such file") from None
    except OSError as exc:
        raise InputError(source, "", f"cannot be read ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise InputError(source, "", f"is a folder; allowed: {what}")
        raise InputError(source, "", f"is not a regular file (a device, FIFO or socket); "
                         f"allowed: {what}")
    with os.fdopen(fd, "rb") as fh:
        try:
            data = fh.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise InputError(source, "", f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(source, "", f"larger than {MAX_INPUT_BYTES // 1024:,} KiB; allowed: "
                         f"{what} of at most {MAX_INPUT_BYTES // 1024:,} KiB")
    return data


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, refusing malformed TOML and nesting deeper than
    :data:`MAX_NESTING` levels with one InputError line each."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, "", f"not valid TOML: {exc}") from None
    except RecursionError:  # the parser's own stack ran out: far deeper than the cap
        data = None
    if data is None or nesting(data) > MAX_NESTING:
        raise InputError(source, "", f"tables and arrays nested more than {MAX_NESTING} levels "
                         f"deep; allowed: at most {MAX_NESTING}")
    return data


def read_data_table(path: str | Path | None, shipped: str, table: str, what: str,
                    default: Any = None) -> tuple[Any, str]:
    """The one top-level ``table`` of a data file (targets, anchors), and the name to report
    errors against: the shipped file ``shipped`` (a path inside the package, ``sim/data/...``)
    when ``path`` is None, else the user's file, read like every input file. Any other
    top-level key is refused; a missing table gives ``default``."""
    if path is None:
        package, *parts = Path(shipped).parts
        text = resources.files(package).joinpath(*parts).read_text(encoding="utf-8")
        where = shipped
    else:
        where = str(path)
        try:  # the reader of every input file: a regular file of at most 1 MiB
            text = read_input(path, what).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(where, "", f"cannot read {what}: {exc}") from None
    data = parse_toml(text, where)
    extra = [k for k in data if k != table]
    if extra:
        raise InputError(where, extra[0], f"unknown key; allowed: {table}")
    return data.get(table, default), where


def parse_value(raw: str, source: str, key: str) -> Any:
    """The TOML value ``raw`` (the right-hand side of ``KEY = VALUE``, as ``--set`` gives it),
    held to the nesting cap of a file. Raises ``tomllib.TOMLDecodeError`` for text that is not
    a TOML value (the caller may take it as a bare word) and InputError, naming ``source`` and
    ``key``, for nesting deeper than :data:`MAX_NESTING`."""
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except RecursionError:  # the parser's own stack ran out: far deeper than the cap
        value, deep = None, True
    else:
        deep = nesting(value) > MAX_NESTING - 1  # the value sits one level below the top
    if deep:
        raise InputError(source, key, f"tables and arrays nested more than {MAX_NESTING} "
                         f"levels deep; allowed: at most {MAX_NESTING}")
    return value


def nesting(value: Any) -> int:
    """Nesting depth of tables and arrays, without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            level += 1
            deepest = max(deepest, level)
            if level <= MAX_NESTING:
                stack.extend((v, level) for v in (item.values() if isinstance(item, dict)
                                                  else item))
    return deepest


#: What an intervention's name may hold: it names files and report sections.
NAME_RULE = r"[A-Za-z0-9_\-]+"


def check_intervention_name(name: Any, source: str, key: str, taken=()) -> str:
    """An intervention's name, held to :data:`NAME_RULE` wherever it is given (a file or
    ``--set``), and not one of the names ``taken``."""
    if not isinstance(name, str) or not re.fullmatch(NAME_RULE, name):
        shown = ("a table" if isinstance(name, dict) else "an array" if isinstance(name, list)
                 else repr(name))
        raise InputError(source, key, f"got {shown}; allowed: a non-empty name of letters, "
                         "digits, '_' and '-'")
    if name in taken:
        raise InputError(source, key, f"{name!r} is already the name of another "
                         "intervention; allowed: a unique name")
    return name


def check_not_varied(overrides: dict[str, Any], varied, option: str) -> None:
    """Refuse a ``--set`` of a parameter the command also varies (``option`` says how): the
    varied value would replace it in every run, and the ``--set`` would be recorded yet have
    no effect.

    Raises
    ------
    InputError
        Naming ``--set``, the key and the two ways out.
    """
    from sim.core.params import ParameterError, Params

    def canonical(key: str) -> tuple[str, str] | None:
        try:
            return Params.resolve(key.removeprefix("params."))
        except ParameterError:
            return None

    mine = {canonical(v) for v in varied} - {None}
    for key in overrides:
        if canonical(key) in mine:
            raise InputError("--set", key, f"also varied as {option}, so this value would have "
                             "no effect; allowed: fix it with --set and name the parameters to "
                             "vary with --uncertain, leaving it out, or do not --set it")
