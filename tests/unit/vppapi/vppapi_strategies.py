"""Hypothesis strategies for API values, derived from a parsed module.

``unions="bytes"`` gives a union as its raw bytes (the codec's decoded form: what
round-trips); ``unions="arm"`` as ``{arm: value}`` (what vpp_papi's serializer takes).
"""

from __future__ import annotations

import ipaddress
import string
from typing import Any

from hypothesis import strategies as st

from pycontrol.vppapi.layout import type_size
from pycontrol.vppapi.model import BASE_TYPES, Alias, ApiModule, Define, Enum, Field, Union

INT_RANGES = {
    "u8": (0, 2**8 - 1),
    "i8": (-(2**7), 2**7 - 1),
    "u16": (0, 2**16 - 1),
    "i16": (-(2**15), 2**15 - 1),
    "u32": (0, 2**32 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "u64": (0, 2**64 - 1),
    "i64": (-(2**63), 2**63 - 1),
}


def addresses() -> st.SearchStrategy[Any]:
    return st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))


def prefixes() -> st.SearchStrategy[Any]:
    def net(a: Any, frac: float) -> Any:
        bits = 32 if a.version == 4 else 128
        return ipaddress.ip_network((a, int(frac * bits)), strict=False)

    return st.builds(net, addresses(), st.floats(0, 1))


def type_values(m: ApiModule, t: str, unions: str) -> st.SearchStrategy[Any]:
    if t in INT_RANGES:
        lo, hi = INT_RANGES[t]
        return st.integers(lo, hi)
    if t == "bool":
        return st.booleans()
    if t in BASE_TYPES:
        raise NotImplementedError(t)
    if t == "vl_api_address_t":
        return addresses()
    if t == "vl_api_prefix_t":
        return prefixes()
    d = m.type(t)
    if isinstance(d, Enum):
        vals = sorted(d.values())
        if d.is_flag:
            return st.sets(st.sampled_from(vals)).map(sum)
        return st.sampled_from(vals)
    if isinstance(d, Alias):
        if d.length is None:
            return type_values(m, d.type, unions)
        if d.name == "ip4_address":
            return st.ip_addresses(v=4)
        if d.name == "ip6_address":
            return st.ip_addresses(v=6)
        if d.type == "u8":
            return st.binary(min_size=d.length, max_size=d.length)
        return st.lists(type_values(m, d.type, unions), min_size=d.length, max_size=d.length)
    if isinstance(d, Union):
        size = type_size(m, t)
        if unions == "bytes":
            return st.binary(min_size=size, max_size=size)
        return st.one_of(
            *[field_values(m, f, unions).map(lambda v, n=f.name: {n: v}) for f in d.fields]
        )
    return st.fixed_dictionaries({f.name: field_values(m, f, unions) for f in d.fields})


def field_values(m: ApiModule, f: Field, unions: str) -> st.SearchStrategy[Any]:
    if f.type == "string":
        alphabet = string.ascii_letters + string.digits + "-_./"
        if f.length == 0:
            return st.text(alphabet, max_size=40)
        return st.text(alphabet, max_size=f.length - 1)
    if f.is_array and not f.is_vla:
        if f.type == "u8":
            return st.binary(min_size=f.length, max_size=f.length)
        return st.lists(type_values(m, f.type, unions), min_size=f.length, max_size=f.length)
    return type_values(m, f.type, unions)


def message_values(m: ApiModule, d: Define, unions: str = "bytes") -> st.SearchStrategy[Any]:
    fixed = {}
    vla = None
    for f in d.fields:
        if f.is_vla:
            vla = f
        else:
            fixed[f.name] = field_values(m, f, unions)
    base = st.fixed_dictionaries(fixed)
    if vla is None:
        return base
    elems = st.lists(type_values(m, vla.type, unions), max_size=6)
    count = vla.length_field
    assert count is not None

    def with_items(v: dict[str, Any], items: list[Any]) -> dict[str, Any]:
        return {**v, vla.name: items, count: len(items)}

    return st.builds(with_items, base, elems)
