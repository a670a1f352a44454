"""``.api.json`` in the structure ``vppapigen`` writes (its JSON output module).

Same keys, same order, same formatting (``indent=4``), so that ``vpp_papi`` loads it
unchanged and, when built from the same inputs, the file is byte-identical to VPP's.
"""

from __future__ import annotations

import json
from typing import Any

from pycontrol.vppapi.model import Alias, ApiModule, Define, Enum, Field, Typedef, Union


def _field(f: Field) -> list[Any]:
    if f.is_array:
        if f.length_field:
            return [f.type, f.name, f.length, f.length_field]
        return [f.type, f.name, f.length]
    if f.options:
        return [f.type, f.name, dict(f.options)]
    return [f.type, f.name]


def _def(t: Typedef | Union | Define, is_message: bool) -> list[Any]:
    d: list[Any] = [t.name]
    d.extend(_field(b) for b in t.block if isinstance(b, Field))
    c: dict[str, Any] = {}
    if is_message and isinstance(t, Define) and t.crc:
        c["crc"] = f"{t.crc:#010x}"
        c["options"] = dict(t.options)
    comment = getattr(t, "comment", None)
    if comment:
        c["comment"] = comment
    if c:
        d.append(c)
    return d


def _enum(e: Enum) -> list[Any]:
    return [e.name, *([i.name, i.value] for i in e.items), {"enumtype": e.enumtype}]


def to_dict(m: ApiModule) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for s in m.services:
        d: dict[str, Any] = {"reply": s.reply}
        if s.stream:
            d["stream"] = True
        if s.stream_message:
            d["stream_msg"] = s.stream_message
        if s.events:
            d["events"] = s.events
        services[s.caller] = d
    aliases: dict[str, Any] = {}
    for a in m.types:
        if isinstance(a, Alias):
            aliases[a.name] = (
                {"type": a.type, "length": a.length} if a.length is not None else {"type": a.type}
            )
    return {
        "module": m.name,
        "types": [_def(t, False) for t in m.types if isinstance(t, Typedef)],
        "messages": [_def(d, True) for d in m.messages],
        "unions": [_def(t, False) for t in m.types if isinstance(t, Union)],
        "enums": [_enum(t) for t in m.types if isinstance(t, Enum) and not t.is_flag],
        "enumflags": [_enum(t) for t in m.types if isinstance(t, Enum) and t.is_flag],
        "services": services,
        "options": dict(m.options),
        "aliases": aliases,
        "vl_api_version": hex(m.file_crc),
        "imports": list(m.imports),
        "counters": [{"name": c.name, "elements": c.elements} for c in m.counters],
        "paths": list(m.paths),
    }


def generate(m: ApiModule) -> str:
    return json.dumps(to_dict(m), indent=4, separators=(",", ": "))
