"""Tokens of the VPP API language, with line numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pycontrol.vppapi.model import ApiError

RESERVED = frozenset(
    {
        "service",
        "rpc",
        "returns",
        "null",
        "stream",
        "events",
        "define",
        "typedef",
        "enum",
        "enumflag",
        "typeonly",
        "manual_print",
        "manual_endian",
        "dont_trace",
        "autoreply",
        "autoendian",
        "option",
        "u8",
        "u16",
        "u32",
        "u64",
        "i8",
        "i16",
        "i32",
        "i64",
        "f64",
        "bool",
        "string",
        "import",
        "true",
        "false",
        "union",
        "counters",
        "paths",
        "units",
        "severity",
        "type",
        "description",
    }
)

_TOKEN = re.compile(
    r"""
    (?P<nl>\n)
  | (?P<ws>[ \t\r\f\v]+)
  | (?P<comment>/\*(?:.|\n)*?\*/|//[^\n]*)
  | (?P<badcomment>/\*)
  | (?P<num>0[xX][0-9a-fA-F]+|-?\d+\.?\d*)
  | (?P<id>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<str>"(?:[^\\\n"]|\\.)*")
  | (?P<punct>[:{}\[\];=.,])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # "id", "num", "str", "punct", "comment", "eof"
    value: str | int | float
    line: int
    end_line: int

    @property
    def text(self) -> str:
        return str(self.value)


def tokenize(text: str, file: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    line = 1
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            raise ApiError(file, line, f"illegal character {ch!r} ({hex(ord(ch))})")
        kind = m.lastgroup
        s = m.group()
        pos = m.end()
        if kind == "nl":
            line += 1
        elif kind == "ws":
            pass
        elif kind == "badcomment":
            raise ApiError(file, line, "unterminated comment")
        elif kind == "comment":
            end = line + s.count("\n")
            out.append(Token("comment", s, line, end))
            line = end
        elif kind == "num":
            value: int | float
            if s.startswith(("0x", "0X")):
                value = int(s, 16)
            elif "." in s:
                value = float(s)
            else:
                value = int(s, 10)
            out.append(Token("num", value, line, line))
        elif kind == "id":
            out.append(Token("id", s, line, line))
        elif kind == "str":
            out.append(Token("str", s[1:-1], line, line))
        else:
            out.append(Token("punct", s, line, line))
    out.append(Token("eof", "", line, line))
    return out
