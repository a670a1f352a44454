"""ClassBench filter sets and traces: read, write, and a linear first-match reference.

Filter line: ``@sa/len<TAB>da/len<TAB>sp_lo : sp_hi<TAB>dp_lo : dp_hi<TAB>proto/mask<TAB>
flags/mask`` (the flags column is read and ignored). First match wins; the rule index is
the line order from 0. Trace line: ``sa da sp dp proto flags rule`` (integers).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


class ClassBenchError(ValueError):
    """A malformed filter or trace line (the message names the line)."""


@dataclass(frozen=True, slots=True)
class Filter:
    sa: int
    sa_len: int
    da: int
    da_len: int
    sp_lo: int
    sp_hi: int
    dp_lo: int
    dp_hi: int
    proto: int
    proto_mask: int

    def matches(self, h: Header) -> bool:
        return (
            _in_prefix(h.sa, self.sa, self.sa_len)
            and _in_prefix(h.da, self.da, self.da_len)
            and self.sp_lo <= h.sp <= self.sp_hi
            and self.dp_lo <= h.dp <= self.dp_hi
            and (h.proto & self.proto_mask) == (self.proto & self.proto_mask)
        )

    def ranges(self) -> tuple[tuple[int, int], ...]:
        """The filter as one inclusive range per field: sa, da, sp, dp, proto."""
        if self.proto_mask == 0xFF:
            pr = (self.proto, self.proto)
        elif self.proto_mask == 0:
            pr = (0, 255)
        else:
            raise ClassBenchError(f"protocol mask {self.proto_mask:#x} is not 0 or 0xff")
        return (
            _prefix_range(self.sa, self.sa_len),
            _prefix_range(self.da, self.da_len),
            (self.sp_lo, self.sp_hi),
            (self.dp_lo, self.dp_hi),
            pr,
        )


@dataclass(frozen=True, slots=True)
class Header:
    sa: int
    da: int
    sp: int
    dp: int
    proto: int
    flags: int = 0
    rule: int = -1  # the rule the trace generator aimed at (ClassBench's column)


def _mask(length: int) -> int:
    return ((1 << length) - 1) << (32 - length) if length else 0


def _in_prefix(addr: int, net: int, length: int) -> bool:
    return (addr & _mask(length)) == net


def _prefix_range(net: int, length: int) -> tuple[int, int]:
    return net, net | (0xFFFFFFFF >> length if length < 32 else 0)


def _parse_prefix(text: str, lineno: int) -> tuple[int, int]:
    try:
        net = ipaddress.IPv4Network(text, strict=False)
    except ValueError as e:
        raise ClassBenchError(f"line {lineno}: bad prefix {text!r}: {e}") from None
    return int(net.network_address), net.prefixlen


def _parse_range(text: str, lineno: int) -> tuple[int, int]:
    parts = text.split(":")
    if len(parts) != 2:
        raise ClassBenchError(f"line {lineno}: bad port range {text!r}")
    lo, hi = int(parts[0]), int(parts[1])
    if not (0 <= lo <= hi <= 0xFFFF):
        raise ClassBenchError(f"line {lineno}: port range {text!r} inverted or out of range")
    return lo, hi


def _parse_value_mask(text: str, lineno: int) -> tuple[int, int]:
    parts = text.split("/")
    if len(parts) != 2:
        raise ClassBenchError(f"line {lineno}: bad value/mask {text!r}")
    return int(parts[0], 0), int(parts[1], 0)


def parse_filter(line: str, lineno: int = 0) -> Filter:
    if not line.startswith("@"):
        raise ClassBenchError(f"line {lineno}: a filter starts with '@'")
    cols = [c.strip() for c in line[1:].rstrip("\n").split("\t") if c.strip()]
    if len(cols) < 5:
        raise ClassBenchError(f"line {lineno}: expected at least 5 tab-separated columns")
    sa, sl = _parse_prefix(cols[0], lineno)
    da, dl = _parse_prefix(cols[1], lineno)
    sp = _parse_range(cols[2], lineno)
    dp = _parse_range(cols[3], lineno)
    proto, pmask = _parse_value_mask(cols[4], lineno)
    if pmask not in (0, 0xFF) or not 0 <= proto <= 0xFF:
        raise ClassBenchError(f"line {lineno}: protocol {cols[4]!r} must be x/0xFF or x/0x00")
    if len(cols) > 5:
        _parse_value_mask(cols[5], lineno)  # flags: read and ignored
    return Filter(sa, sl, da, dl, sp[0], sp[1], dp[0], dp[1], proto & pmask, pmask)


def read_filters(path: Path) -> list[Filter]:
    out: list[Filter] = []
    with path.open() as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                out.append(parse_filter(line, i))
    return out


def format_filter(r: Filter) -> str:
    sa = ipaddress.IPv4Address(r.sa)
    da = ipaddress.IPv4Address(r.da)
    return (
        f"@{sa}/{r.sa_len}\t{da}/{r.da_len}\t{r.sp_lo} : {r.sp_hi}\t{r.dp_lo} : {r.dp_hi}"
        f"\t0x{r.proto:02X}/0x{r.proto_mask:02X}\t0x0000/0x0000\n"
    )


def write_filters(path: Path, rules: Iterable[Filter]) -> None:
    with path.open("w") as f:
        f.writelines(format_filter(r) for r in rules)


def read_trace(path: Path) -> list[Header]:
    out: list[Header] = []
    with path.open() as f:
        for i, line in enumerate(f, 1):
            cols = line.split()
            if not cols:
                continue
            if len(cols) < 5:
                raise ClassBenchError(f"trace line {i}: expected 'sa da sp dp proto ...'")
            try:
                v = [int(c) for c in cols[:7]]
            except ValueError:
                raise ClassBenchError(f"trace line {i}: not integers") from None
            if not (
                0 <= v[0] <= 0xFFFFFFFF
                and 0 <= v[1] <= 0xFFFFFFFF
                and 0 <= v[2] <= 0xFFFF
                and 0 <= v[3] <= 0xFFFF
                and 0 <= v[4] <= 0xFF
            ):
                raise ClassBenchError(f"trace line {i}: field out of range")
            flags = v[5] if len(v) > 5 else 0
            rule = v[6] if len(v) > 6 else -1
            out.append(Header(v[0], v[1], v[2], v[3], v[4], flags, rule))
    return out


def write_trace(path: Path, trace: Iterable[Header]) -> None:
    with path.open("w") as f:
        f.writelines(
            f"{h.sa}\t{h.da}\t{h.sp}\t{h.dp}\t{h.proto}\t{h.flags}\t{h.rule}\n" for h in trace
        )


def first_match(rules: Sequence[Filter], h: Header) -> int:
    """Linear first match: the executable definition the classifiers are checked against."""
    for i, r in enumerate(rules):
        if r.matches(h):
            return i
    return -1
