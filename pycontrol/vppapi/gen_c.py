"""C header of packed structs with VPP's type names, message ids and endian converters.

For builds without VPP: ``api/`` handlers include ``<module>.api_wire.h``. Structs are
``typedef struct __attribute__((packed)) _vl_api_<name> {...} vl_api_<name>_t`` with the
fields, types and order vppapigen emits, so code written against them compiles against
VPP's own ``*.api_types.h`` too. Per type and message:

- ``vl_api_<name>_t_ntoh(p)`` / ``_hton(p)``: convert the fixed part in place;
- for messages, ``vl_api_<name>_t_decode(p, len)``: check ``len`` against the fixed size
  and the count of the trailing array (exactly), then convert to host order; returns 0
  or -1 and leaves the bytes untouched on -1. ``vl_api_<name>_t_encode(p)`` converts a
  host-order message to network order and returns its total length.

Unions are not converted (which arm is live is the handler's knowledge). Types shared by
several modules are guarded so two generated headers can be included together.
"""

from __future__ import annotations

from pycontrol.vppapi.layout import field_size, message_layout, type_size
from pycontrol.vppapi.model import (
    BASE_TYPES,
    Alias,
    ApiModule,
    Define,
    Enum,
    Field,
    TypeDef,
    Union,
)

_SWAP = {2: "cp_api_swap16", 4: "cp_api_swap32", 8: "cp_api_swap64"}
_CTYPE = {
    "u8": "u8",
    "i8": "i8",
    # wire bools are bytes: a received 2 must be rejectable, not undefined behaviour
    "bool": "u8",
    "u16": "u16",
    "i16": "i16",
    "u32": "u32",
    "i32": "i32",
    "u64": "u64",
    "i64": "i64",
    "f64": "f64",
}

PRELUDE = """\
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef CP_API_WIRE_PRELUDE
#define CP_API_WIRE_PRELUDE
#ifndef CP_API_HAVE_VPPINFRA_TYPES
typedef uint8_t u8;
typedef int8_t i8;
typedef uint16_t u16;
typedef int16_t i16;
typedef uint32_t u32;
typedef int32_t i32;
typedef uint64_t u64;
typedef int64_t i64;
typedef double f64;
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define cp_api_swap16(x) (x)
#define cp_api_swap32(x) (x)
#define cp_api_swap64(x) (x)
#else
#define cp_api_swap16(x) __builtin_bswap16(x)
#define cp_api_swap32(x) __builtin_bswap32(x)
#define cp_api_swap64(x) __builtin_bswap64(x)
#endif
static inline f64 cp_api_swapf64(f64 v)
{
  u64 u;
  memcpy(&u, &v, 8);
  u = cp_api_swap64(u);
  memcpy(&v, &u, 8);
  return v;
}
#endif
"""


def _ctype(t: str) -> str:
    return _CTYPE.get(t, t)


def _field_decl(f: Field) -> str:
    if f.type == "string":
        if f.length == 0:
            return f"    vl_api_string_t {f.name};"
        return f"    u8 {f.name}[{f.length}];"
    if f.is_vla:
        return f"    {_ctype(f.type)} {f.name}[0];"
    if f.is_array:
        return f"    {_ctype(f.type)} {f.name}[{f.length}];"
    return f"    {_ctype(f.type)} {f.name};"


def _swap_expr(m: ApiModule, t: str, lv: str) -> list[str]:
    """Statements converting the lvalue lv of type t in place (both directions)."""
    if t in BASE_TYPES:
        size = BASE_TYPES[t]
        if size == 1:
            return []
        if t == "f64":
            return [f"{lv} = cp_api_swapf64({lv});"]
        return [f"{lv} = ({_ctype(t)}){_SWAP[size]}(({_unsigned(size)}){lv});"]
    d = m.type(t)
    if isinstance(d, Enum):
        size = BASE_TYPES[d.enumtype]
        if size == 1:
            return []
        return [f"{lv} = ({t}){_SWAP[size]}(({_unsigned(size)}){lv});"]
    if isinstance(d, Alias):
        if d.length is None:
            return _swap_expr(m, d.type, lv)
        inner = _swap_expr(m, d.type, f"{lv}[i]")
        if not inner:
            return []
        return [f"for (u32 i = 0; i < {d.length}; i++) {{", *inner, "}"]
    if isinstance(d, Union):
        return []  # the live arm is the handler's knowledge
    if _needs_swap(m, t):
        return [f"{t}_ntoh(&{lv});"]
    return []


def _unsigned(size: int) -> str:
    return {2: "u16", 4: "u32", 8: "u64"}[size]


def _needs_swap(m: ApiModule, t: str) -> bool:
    if t in BASE_TYPES:
        return BASE_TYPES[t] > 1
    d = m.type(t)
    if isinstance(d, Enum):
        return BASE_TYPES[d.enumtype] > 1
    if isinstance(d, Alias):
        return _needs_swap(m, d.type)
    if isinstance(d, Union):
        return False
    return any(_field_needs_swap(m, f) for f in d.fields)


def _field_needs_swap(m: ApiModule, f: Field) -> bool:
    return f.type != "string" and _needs_swap(m, f.type)


def _field_swaps(m: ApiModule, f: Field, p: str) -> list[str]:
    if f.is_vla or f.type == "string":
        return []  # the trailing array is converted by decode/encode with its count
    if f.is_array:
        inner = _swap_expr(m, f.type, f"{p}->{f.name}[i]")
        if not inner:
            return []
        return [f"for (u32 i = 0; i < {f.length}; i++) {{", *inner, "}"]
    return _swap_expr(m, f.type, f"{p}->{f.name}")


def _indent(lines: list[str], n: int = 2) -> list[str]:
    out: list[str] = []
    depth = 0
    for ln in lines:
        if ln.startswith("}"):
            depth -= 1
        out.append(" " * (n * (depth + 1)) + ln)
        if ln.endswith("{"):
            depth += 1
    return out


def _guard(name: str) -> str:
    return f"CP_API_TYPE_{name}"


def _type_block(m: ApiModule, t: TypeDef) -> list[str]:
    name = f"vl_api_{t.name}_t"
    out = [f"#ifndef {_guard(name)}", f"#define {_guard(name)}"]
    if isinstance(t, Enum):
        out.append("typedef enum __attribute__((packed)) {")
        out += [f"    {i.name} = {i.value}," for i in t.items]
        out.append(f"}} {name};")
        out.append(
            f'_Static_assert(sizeof({name}) == sizeof({t.enumtype}), "size of API enum {t.name}");'
        )
    elif isinstance(t, Alias):
        if t.length is None:
            out.append(f"typedef {_ctype(t.type)} {name};")
        else:
            out.append(f"typedef {_ctype(t.type)} {name}[{t.length}];")
    elif isinstance(t, Union):
        out.append(f"typedef union __attribute__((packed)) _{name[:-2]} {{")
        out += [_field_decl(f) for f in t.fields]
        out.append(f"}} {name};")
    else:
        out.append(f"typedef struct __attribute__((packed)) _{name[:-2]} {{")
        out += [_field_decl(f) for f in t.fields]
        out.append(f"}} {name};")
        if _needs_swap(m, name):
            body: list[str] = []
            for f in t.fields:
                body += _field_swaps(m, f, "a")
            out.append(f"static inline void {name}_ntoh({name} *a)")
            out.append("{")
            out += _indent(body)
            out.append("}")
    size = type_size(m, name)
    out.append(f'_Static_assert(sizeof({name}) == {size}, "wire size of {t.name}");')
    out.append("#endif")
    return out


def _message_block(m: ApiModule, d: Define) -> list[str]:
    name = f"vl_api_{d.name}_t"
    lay = message_layout(m, d)
    out = [f"typedef struct __attribute__((packed)) _{name[:-2]} {{"]
    out += [_field_decl(f) for f in d.fields]
    out.append(f"}} {name};")
    out.append(f'_Static_assert(sizeof({name}) == {lay.fixed_size}, "wire size of {d.name}");')
    for f in d.fields:
        off = lay.offsets[f.name]
        out.append(
            f'_Static_assert(offsetof({name}, {f.name}) == {off}, "offset of {d.name}.{f.name}");'
        )
    fixed: list[str] = []
    for f in d.fields:
        if f.name != "_vl_msg_id":
            fixed += _field_swaps(m, f, "a")
    swaps = fixed
    out.append(f"static inline void {name}_ntoh({name} *a)")
    out.append("{")
    out += _indent(["a->_vl_msg_id = cp_api_swap16(a->_vl_msg_id);", *swaps])
    out.append("}")
    out.append(f"#define {name}_hton {name}_ntoh")

    vla = lay.vla
    tail = d.fields[-1] if d.fields else None
    elem_swap: list[str] = []
    if vla is not None:
        elem_swap = _swap_expr(m, vla.type, f"a->{vla.name}[i]")
    # decode: check the length, then convert
    out.append("/* Check len against the message layout, then convert to host order in place.")
    out.append("   Returns 0, or -1 (nothing converted) when len does not match exactly. */")
    out.append(f"static inline int {name}_decode({name} *a, u32 len)")
    out.append("{")
    body = [f"if (len < {lay.fixed_size})", "  return -1;"]
    if vla is not None:
        lf = next(f for f in d.fields if f.name == vla.length_field)
        cnt = _swap_expr(m, lf.type, "n") or []
        body += [f"{_ctype(lf.type)} n = a->{lf.name};", *cnt]
        body += [
            f"if ((u64)len != (u64){lay.fixed_size} + (u64)n * {lay.vla_elem_size}u)",
            "  return -1;",
            f"{name}_ntoh(a);",
        ]
        if elem_swap:
            body += ["for (u32 i = 0; i < (u32)n; i++) {", *elem_swap, "}"]
    elif tail is not None and tail.is_var_string:
        body += [
            f"u32 n = cp_api_swap32(a->{tail.name}.length);",
            f"if ((u64)len != (u64){lay.fixed_size} + n)",
            "  return -1;",
            f"{name}_ntoh(a);",
            f"a->{tail.name}.length = n;",
        ]
    else:
        body += [f"if (len != {lay.fixed_size})", "  return -1;", f"{name}_ntoh(a);"]
    body.append("return 0;")
    out += _indent_plain(body)
    out.append("}")
    # encode: host -> network, returns the total length
    out.append("/* Convert a host-order message to network order; returns its wire length. */")
    out.append(f"static inline u32 {name}_encode({name} *a)")
    out.append("{")
    body = []
    if vla is not None:
        lf = next(f for f in d.fields if f.name == vla.length_field)
        body += [f"u32 n = (u32)a->{lf.name};"]
        if elem_swap:
            body += ["for (u32 i = 0; i < n; i++) {", *elem_swap, "}"]
        body += [f"{name}_hton(a);", f"return {lay.fixed_size}u + n * {lay.vla_elem_size}u;"]
    elif tail is not None and tail.is_var_string:
        body += [
            f"u32 n = a->{tail.name}.length;",
            f"{name}_hton(a);",
            f"a->{tail.name}.length = cp_api_swap32(n);",
            f"return {lay.fixed_size}u + n;",
        ]
    else:
        body += [f"{name}_hton(a);", f"return {lay.fixed_size}u;"]
    out += _indent_plain(body)
    out.append("}")
    return out


def _indent_plain(lines: list[str]) -> list[str]:
    out: list[str] = []
    depth = 1
    for ln in lines:
        if ln.startswith("}"):
            depth -= 1
        out.append("  " * depth + ln)
        if ln.endswith("{"):
            depth += 1
    return out


def generate(m: ApiModule) -> str:
    mod = m.name
    up = mod.upper()
    out = [
        f"/* Generated by pycontrol.vppapi from {mod}.api: do not edit. */",
        f"#ifndef included_{mod}_api_wire_h",
        f"#define included_{mod}_api_wire_h",
        PRELUDE,
        "#ifndef CP_API_TYPE_vl_api_string_t",
        "#define CP_API_TYPE_vl_api_string_t",
        "typedef struct __attribute__((packed)) {",
        "    u32 length;",
        "    u8 buf[0];",
        "} vl_api_string_t;",
        "#endif",
        "",
    ]
    version = str(m.options.get("version", "0.0.0")).split(".")
    for part, v in zip(("MAJOR", "MINOR", "PATCH"), version, strict=False):
        out.append(f"#define VL_API_{up}_API_VERSION_{part} {int(v)}")
    out.append("")
    for t in m.types:
        out += _type_block(m, t)
        out.append("")
    for d in m.messages:
        out += _message_block(m, d)
        out.append("")
    out.append("/* Message ids: a plugin's id is its base (from VPP's message table) + this. */")
    out.append("typedef enum {")
    out += [f"    VL_API_{d.name.upper()}," for d in m.messages]
    out.append(f"    VL_MSG_{up}_LAST")
    out.append(f"}} vl_api_{mod}_enum_t;")
    for d in m.messages:
        out.append(f'#define VL_API_{d.name.upper()}_CRC "{d.name}_{d.crc:08x}"')
    out.append("")
    out.append(f"#endif /* included_{mod}_api_wire_h */")
    return "\n".join(out) + "\n"


def layout_table(m: ApiModule) -> list[tuple[str, str, int, int]]:
    """(struct, field, offset, size) of every message field: what tests compare."""
    rows: list[tuple[str, str, int, int]] = []
    for d in m.messages:
        lay = message_layout(m, d)
        for f in d.fields:
            rows.append((d.name, f.name, lay.offsets[f.name], field_size(m, f)))
    return rows
