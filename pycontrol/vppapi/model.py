"""The objects of a parsed ``.api`` file.

The ``crc_repr`` methods render an object the way ``vppapigen`` renders its own objects
(Python's ``str`` of a list) before hashing; that text is what the message CRCs cover, so it
is part of the wire contract (VPP refuses a message whose name+CRC it does not know).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BASE_TYPES: dict[str, int] = {
    "u8": 1,
    "i8": 1,
    "bool": 1,
    "u16": 2,
    "i16": 2,
    "u32": 4,
    "i32": 4,
    "u64": 8,
    "i64": 8,
    "f64": 8,
}
ENUM_SIZES = ("u8", "u16", "u32", "i8", "i16", "i32")
ENUMFLAG_SIZES = ("u8", "u16", "u32")

OptionValue = int | float | str | bool | None


class ApiError(Exception):
    """A malformed ``.api`` file: ``file:line: message``."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message


@dataclass
class Option:
    name: str
    value: OptionValue
    line: int

    def crc_repr(self) -> str:
        return str(self.name)


@dataclass
class Field:
    """A scalar field, or an array when ``length`` / ``length_field`` is set.

    ``length`` is the fixed element count (0 for ``string x[]``); ``length_field`` names
    the count field of a variable-length array. ``options`` are ``[key=value]`` options
    (``default``, ``limit``...), carried into the JSON but not the CRC, as vppapigen does.
    """

    type: str
    name: str
    line: int
    is_array: bool = False
    length: int = 0
    length_field: str | None = None
    options: dict[str, OptionValue] = field(default_factory=dict)

    @property
    def is_vla(self) -> bool:
        return self.length_field is not None

    @property
    def is_var_string(self) -> bool:
        return self.type == "string" and self.is_array and self.length == 0

    def crc_repr(self) -> str:
        if self.is_array:
            return str([self.type, self.name, self.length, self.length_field])
        return str([self.type, self.name])


BlockItem = Field | Option


def block_repr(block: list[BlockItem]) -> str:
    return "[" + ", ".join(b.crc_repr() for b in block) + "]"


@dataclass
class Typedef:
    name: str
    block: list[BlockItem]
    flags: list[str]
    line: int
    comment: str | None = None

    @property
    def fields(self) -> list[Field]:
        return [b for b in self.block if isinstance(b, Field)]


@dataclass
class Union:
    name: str
    block: list[BlockItem]
    flags: list[str]
    line: int

    @property
    def fields(self) -> list[Field]:
        return [b for b in self.block if isinstance(b, Field)]


@dataclass
class Alias:
    """``typedef u32 interface_index;`` / ``typedef u8 ip4_address[4];``"""

    name: str
    type: str
    length: int | None
    flags: list[str]
    line: int


@dataclass
class EnumItem:
    name: str
    value: int
    backwards_compatible: bool = False


@dataclass
class Enum:
    name: str
    items: list[EnumItem]
    enumtype: str
    is_flag: bool
    line: int

    def crc_repr(self) -> str:
        return str([[i.name, i.value] for i in self.items if not i.backwards_compatible])

    def values(self) -> set[int]:
        return {i.value for i in self.items}


@dataclass
class Define:
    name: str
    block: list[Field]
    flags: list[str]
    options: dict[str, OptionValue]
    line: int
    comment: str | None = None
    crc: int = 0

    @property
    def fields(self) -> list[Field]:
        return self.block

    @property
    def autoreply(self) -> bool:
        return "autoreply" in self.flags


@dataclass
class Service:
    caller: str
    reply: str
    line: int
    stream: bool = False
    stream_message: str | None = None
    events: list[str] = field(default_factory=list)


@dataclass
class Counter:
    name: str
    elements: list[dict[str, str]]


TypeDef = Typedef | Union | Alias | Enum


@dataclass
class ApiModule:
    """A processed ``.api`` file: its own messages and services plus every type in scope
    (imported types first, in import order, as vppapigen lists them)."""

    name: str
    file: str
    options: dict[str, OptionValue]
    types: list[TypeDef]
    messages: list[Define]
    services: list[Service]
    imports: list[str]
    file_crc: int
    counters: list[Counter]
    paths: list[list[dict[str, str]]]
    by_name: dict[str, TypeDef] = field(default_factory=dict)

    def type(self, vl_name: str) -> TypeDef:
        """Look up ``vl_api_<name>_t``."""
        return self.by_name[vl_name]

    def message(self, name: str) -> Define:
        for m in self.messages:
            if m.name == name:
                return m
        raise KeyError(name)


def vl_name(name: str) -> str:
    return f"vl_api_{name}_t"
