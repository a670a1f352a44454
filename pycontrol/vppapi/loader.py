"""Load an ``.api`` file into an :class:`ApiModule` the way ``vppapigen`` processes it.

Imports are looked up in the include directories (VPP's dev files install them under
``/usr/include``), else in :mod:`pycontrol.vppapi.builtin`. Imported files contribute
their types (not their messages), in import order, before the file's own types. Message
CRCs are computed as vppapigen does: CRC-32 of the textual form of the message block,
then folded over every type the message uses, recursively.
"""

from __future__ import annotations

import binascii
import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from pycontrol.vppapi.builtin import BUILTIN_IMPORTS
from pycontrol.vppapi.model import (
    Alias,
    ApiError,
    ApiModule,
    BlockItem,
    Counter,
    Define,
    Enum,
    Field,
    Option,
    OptionValue,
    Service,
    TypeDef,
    Typedef,
    Union,
    block_repr,
)
from pycontrol.vppapi.parser import ImportStmt, Parsed, Parser

MSG_ID_FIELD = "_vl_msg_id"
DEFAULT_VPP_INCLUDE = ("/usr/include",)

Obj = Typedef | Union | Alias | Enum | Define | Option | ImportStmt | Service | Counter


def default_include_dirs() -> list[str]:
    """``CP_VPP_API_INCLUDE`` (colon-separated), then VPP's install location if present."""
    dirs = [d for d in os.environ.get("CP_VPP_API_INCLUDE", "").split(":") if d]
    for d in DEFAULT_VPP_INCLUDE:
        if (Path(d) / "vnet/ip/ip_types.api").exists():
            dirs.append(d)
    return dirs


class _Loader:
    def __init__(self, include_dirs: Sequence[str], builtin_only: bool) -> None:
        self.include_dirs = [] if builtin_only else list(include_dirs)
        self.types: dict[str, TypeDef] = {}
        self.parsed: dict[str, Parsed] = {}

    def resolve(self, name: str, from_file: str, line: int) -> Parsed:
        if name in self.parsed:
            return self.parsed[name]
        for d in self.include_dirs:
            p = Path(d) / name
            if p.exists():
                text, shown = p.read_text(encoding="utf-8"), str(p)
                break
        else:
            if name not in BUILTIN_IMPORTS:
                raise ApiError(from_file, line, f"import not found: {name}")
            text, shown = BUILTIN_IMPORTS[name], f"<builtin>/{name}"
        parsed = Parser(text, shown, self.types, self.resolve).parse()
        self.parsed[name] = parsed
        return parsed

    def flatten(self, parsed: Parsed, in_import: bool, out: list[Obj]) -> None:
        for o in parsed.stmts:
            if in_import and not isinstance(o, Enum | ImportStmt | Typedef | Union | Alias):
                continue
            out.append(o)
            if isinstance(o, ImportStmt):
                self.flatten(self.parsed[o.filename], True, out)


def type_crc_text(t: TypeDef) -> str:
    if isinstance(t, Enum):
        return t.crc_repr()
    if isinstance(t, Alias):
        return "[]"  # vppapigen hashes an alias's (empty) block, not its target
    return block_repr(t.block)


class _AbortFoldError(Exception):
    """vppapigen stops folding a block at an item without a field type."""


def _fold(block: Sequence[BlockItem], crc: int, types: dict[str, TypeDef]) -> int:
    for b in block:
        if isinstance(b, Option):
            raise _AbortFoldError
        if b.type.startswith("vl_api_"):
            t = types[b.type]
            crc = binascii.crc32(type_crc_text(t).encode(), crc) & 0xFFFFFFFF
            if isinstance(t, Typedef | Union):
                with contextlib.suppress(_AbortFoldError):
                    crc = _fold(t.block, crc, types)
    return crc


def message_crc(d: Define, types: dict[str, TypeDef]) -> int:
    body = [f for f in d.block if f.name != MSG_ID_FIELD]
    crc = binascii.crc32(block_repr(list(body)).encode()) & 0xFFFFFFFF
    return _fold(d.block, crc, types)


def _obj_crc_text(o: Obj) -> str | None:
    if isinstance(o, Option):
        return o.crc_repr()
    if isinstance(o, Define):
        return block_repr(list(o.block))
    if isinstance(o, Typedef | Union | Alias | Enum):
        return type_crc_text(o)
    return None


def _services(msgs: list[Define], explicit: list[Service], file: str) -> list[Service]:
    by_name = {m.name: m for m in msgs}
    svcs = {s.caller: s for s in explicit}
    replies = {s.reply for s in explicit}
    out = list(explicit)
    events: set[str] = set()
    for s in explicit:
        if s.caller not in by_name:
            raise ApiError(file, s.line, f"service refers to unknown message {s.caller}")
        if s.reply != "null" and s.reply not in by_name:
            raise ApiError(file, s.line, f"service refers to unknown reply {s.reply}")
        if s.caller in replies:
            raise ApiError(file, s.line, f"service caller {s.caller} is marked as a reply")
        for e in s.events:
            if e not in by_name:
                raise ApiError(file, s.line, f"service refers to unknown event {e}")
            events.add(e)
    for m in msgs:
        d = m.name
        if d in events or d in svcs:
            continue
        if d.endswith("_reply"):
            if d[:-6] not in by_name and d[:-6] not in svcs:
                raise ApiError(file, m.line, f"{d} has no calling message")
            continue
        if d.endswith("_dump"):
            if d[:-5] + "_details" not in by_name:
                raise ApiError(file, m.line, f"{d} has no details message")
            out.append(Service(d, d[:-5] + "_details", m.line, stream=True))
            continue
        if d.endswith("_details"):
            if d[:-8] + "_get" in by_name:
                if d[:-8] + "_get" in svcs:
                    continue
                raise ApiError(file, m.line, f"{d[:-8]}_get should be in a stream service")
            if d[:-8] + "_dump" in by_name:
                continue
            raise ApiError(file, m.line, f"{d} has no dump or get message")
        if d + "_reply" in by_name:
            out.append(Service(d, d + "_reply", m.line))
        else:
            raise ApiError(file, m.line, f"{d} has no reply message ({d}_reply) or service")
    return out


def load_text(
    text: str,
    file: str,
    include_dirs: Sequence[str] | None = None,
    builtin_only: bool = False,
) -> ApiModule:
    ld = _Loader(default_include_dirs() if include_dirs is None else include_dirs, builtin_only)
    main = Parser(text, file, ld.types, ld.resolve).parse()
    ld.parsed["<main>"] = main
    objs: list[Obj] = []
    ld.flatten(main, False, objs)

    file_crc = 0
    options: dict[str, OptionValue] = {}
    types: list[TypeDef] = []
    messages: list[Define] = []
    explicit: list[Service] = []
    imports: list[str] = []
    counters: list[Counter] = []
    for o in objs:
        ct = _obj_crc_text(o)
        if ct is not None:
            file_crc = binascii.crc32(ct.encode(), file_crc) & 0xFFFFFFFF
        if isinstance(o, Option):
            options[o.name] = o.value
        elif isinstance(o, Define):
            messages.append(o)
            if o.autoreply:
                reply = [Field("u32", "context", o.line), Field("i32", "retval", o.line)]
                messages.append(Define(o.name + "_reply", reply, [], dict(o.options), o.line))
        elif isinstance(o, Typedef | Union | Alias | Enum):
            types.append(o)
        elif isinstance(o, ImportStmt):
            imports.append(o.filename)
        elif isinstance(o, Service):
            explicit.append(o)
        else:
            counters.append(o)
    seen: set[str] = set()
    for m in messages:
        if m.name in seen:
            raise ApiError(file, m.line, f"message {m.name} defined twice")
        seen.add(m.name)
    services = _services(messages, explicit, file)
    for m in messages:
        m.block.insert(0, Field("u16", MSG_ID_FIELD, m.line))
        m.crc = message_crc(m, ld.types)
    name = os.path.splitext(os.path.basename(file))[0].replace(".", "_")
    return ApiModule(
        name=name,
        file=file,
        options=options,
        types=types,
        messages=messages,
        services=services,
        imports=imports,
        file_crc=file_crc,
        counters=counters,
        paths=main.paths,
        by_name=dict(ld.types),
    )


def load(
    path: str | Path, include_dirs: Sequence[str] | None = None, builtin_only: bool = False
) -> ApiModule:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ApiError(str(p), 0, f"cannot read: {e.strerror}") from e
    return load_text(text, str(p), include_dirs, builtin_only)
