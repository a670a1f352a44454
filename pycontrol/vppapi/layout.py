"""Wire layouts of API types: packed (no padding), network byte order.

The same sizes drive the C headers (``__attribute__((packed))``), the cffi cdefs and the
Python codecs; tests compare all three and vpp_papi.
"""

from __future__ import annotations

from dataclasses import dataclass

from pycontrol.vppapi.model import (
    BASE_TYPES,
    Alias,
    ApiModule,
    Define,
    Enum,
    Field,
    Typedef,
    Union,
)

STRUCT_CODES = {
    "u8": "B",
    "i8": "b",
    "bool": "?",
    "u16": "H",
    "i16": "h",
    "u32": "I",
    "i32": "i",
    "u64": "Q",
    "i64": "q",
    "f64": "d",
}


def type_size(m: ApiModule, t: str) -> int:
    """Size of one value of type ``t`` (fixed part only for variable-length types)."""
    if t in BASE_TYPES:
        return BASE_TYPES[t]
    d = m.type(t)
    if isinstance(d, Enum):
        return BASE_TYPES[d.enumtype]
    if isinstance(d, Alias):
        return type_size(m, d.type) * (d.length if d.length is not None else 1)
    if isinstance(d, Union):
        return max(field_size(m, f) for f in d.fields)
    return sum(field_size(m, f) for f in d.fields)


def field_size(m: ApiModule, f: Field) -> int:
    """Bytes the field takes in the fixed part of its struct."""
    if f.is_vla:
        return 0
    if f.type == "string":
        return 4 if f.length == 0 else f.length  # vl_api_string_t: u32 length + data
    n = f.length if f.is_array else 1
    return type_size(m, f.type) * n


@dataclass(frozen=True)
class MessageLayout:
    name: str
    fixed_size: int
    offsets: dict[str, int]
    vla: Field | None  # the trailing variable-length array, if any
    vla_elem_size: int


def message_layout(m: ApiModule, d: Define | Typedef) -> MessageLayout:
    off = 0
    offsets: dict[str, int] = {}
    vla: Field | None = None
    elem = 0
    for f in d.fields:
        offsets[f.name] = off
        off += field_size(m, f)
        if f.is_vla:
            vla = f
            elem = type_size(m, f.type)
    return MessageLayout(d.name, off, offsets, vla, elem)
