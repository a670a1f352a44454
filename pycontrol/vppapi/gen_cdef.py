"""cffi cdefs of the message structs (ABI mode, ``packed=True``): no compiler needed.

``cdef_ffi(module)`` gives an ``FFI`` on which ``ffi.new("vl_api_<msg>_t *")``,
``ffi.from_buffer`` + ``ffi.cast`` and ``ffi.sizeof``/``ffi.offsetof`` work on the wire
layout. Fields keep the byte order of the wire (network order); enums are declared as
their integer type with the members as constants.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycontrol.vppapi.model import Alias, ApiModule, Enum, Field, Typedef, Union

if TYPE_CHECKING:
    import cffi

_CFFI = {
    "u8": "uint8_t",
    "i8": "int8_t",
    "bool": "uint8_t",
    "u16": "uint16_t",
    "i16": "int16_t",
    "u32": "uint32_t",
    "i32": "int32_t",
    "u64": "uint64_t",
    "i64": "int64_t",
    "f64": "double",
}


def _decl(f: Field, last: bool) -> str:
    t = _CFFI.get(f.type, f.type)
    if f.type == "string":
        return (
            f"    vl_api_string_t {f.name};"
            if f.length == 0
            else f"    uint8_t {f.name}[{f.length}];"
        )
    if f.is_vla:
        return f"    {t} {f.name}[];"
    if f.is_array:
        return f"    {t} {f.name}[{f.length}];"
    return f"    {t} {f.name};"


def generate(m: ApiModule) -> str:
    out = ["typedef struct { uint32_t length; uint8_t buf[]; } vl_api_string_t;"]
    for t in m.types:
        name = f"vl_api_{t.name}_t"
        if isinstance(t, Enum):
            out.append(f"typedef {_CFFI[t.enumtype]} {name};")
            out += [f"#define {i.name} {i.value}" for i in t.items]
        elif isinstance(t, Alias):
            base = _CFFI.get(t.type, t.type)
            out.append(
                f"typedef {base} {name};"
                if t.length is None
                else f"typedef {base} {name}[{t.length}];"
            )
        elif isinstance(t, Union | Typedef):
            kw = "union" if isinstance(t, Union) else "struct"
            fields = t.fields
            out.append(f"typedef {kw} {{")
            out += [_decl(f, i == len(fields) - 1) for i, f in enumerate(fields)]
            out.append(f"}} {name};")
    for d in m.messages:
        out.append("typedef struct {")
        out += [_decl(f, i == len(d.fields) - 1) for i, f in enumerate(d.fields)]
        out.append(f"}} vl_api_{d.name}_t;")
    return "\n".join(out) + "\n"


def cdef_ffi(*modules: ApiModule) -> cffi.FFI:
    import cffi  # noqa: PLC0415 (the build-time generator must not need it)

    ffi = cffi.FFI()
    seen: set[str] = set()
    for m in modules:
        text = generate(m)
        # imported types appear in every module: declare each once
        blocks = _split(text)
        keep = [b for name, b in blocks if name not in seen]
        seen.update(name for name, _ in blocks)
        ffi.cdef("\n".join(keep), packed=True)
    return ffi


def _split(text: str) -> list[tuple[str, str]]:
    """Top-level declarations keyed by the name they define."""
    out: list[tuple[str, str]] = []
    cur: list[str] = []
    for ln in text.splitlines():
        cur.append(ln)
        if ln.startswith("#define "):
            out.append((ln.split()[1], "\n".join(cur)))
            cur = []
        elif ln.endswith(";") and not ln.startswith("    "):
            name = ln.rstrip(";").split()[-1]
            name = name.split("[")[0]
            out.append((name, "\n".join(cur)))
            cur = []
    return out
