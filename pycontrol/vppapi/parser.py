"""A recursive-descent parser for the VPP API language as VPP plugins use it.

Accepts what ``vppapigen`` accepts for plugin files: ``option``, ``import``, ``typedef``
(blocks and aliases), ``enum``/``enumflag`` with a size, ``union``, ``define`` with flags
(``autoreply``, ``manual_print``...), ``service`` with ``stream`` and ``events``,
``counters``/``paths``, fixed and variable-length arrays with their length field,
``string`` (fixed and variable) and ``[key=value]`` field options. Every error carries
``file:line``. Types must be defined before use, as in vppapigen.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import dataclass, field

from pycontrol.vppapi.lexer import RESERVED, Token, tokenize
from pycontrol.vppapi.model import (
    BASE_TYPES,
    ENUM_SIZES,
    ENUMFLAG_SIZES,
    Alias,
    ApiError,
    BlockItem,
    Counter,
    Define,
    Enum,
    EnumItem,
    Field,
    Option,
    OptionValue,
    Service,
    TypeDef,
    Typedef,
    Union,
    vl_name,
)

FLAGS = ("manual_print", "manual_endian", "dont_trace", "typeonly", "autoendian", "autoreply")
VARIABLE_NAME_KEYWORDS = ("type", "severity", "description", "counters", "paths")


@dataclass
class ImportStmt:
    filename: str
    line: int


@dataclass
class Parsed:
    """The statements of one file in order (comments dropped), before processing."""

    file: str
    stmts: list[Typedef | Union | Alias | Enum | Define | Option | ImportStmt | Service | Counter]
    paths: list[list[dict[str, str]]] = field(default_factory=list)


# Resolves an import ("vnet/ip/ip_types.api") to (display name, text); the parser
# registers the imported types before continuing.
ImportResolver = Callable[[str, str, int], "Parsed"]


class Parser:
    def __init__(
        self, text: str, file: str, types: dict[str, TypeDef], resolve_import: ImportResolver
    ) -> None:
        self.file = file
        self.toks = tokenize(text, file)
        self.pos = 0
        self.types = types  # vl_api_<name>_t -> definition, shared across imports
        self.resolve_import = resolve_import
        self.last_comment: str | None = None
        self.last_comment_end = 0
        self.imported: dict[str, Parsed] = {}

    # -- token helpers ------------------------------------------------------------------
    def err(self, msg: str, tok: Token | None = None) -> ApiError:
        t = tok or self.peek()
        return ApiError(self.file, t.line, msg)

    def peek(self) -> Token:
        return self.toks[self.pos]

    def next(self) -> Token:
        t = self.toks[self.pos]
        if t.kind != "eof":
            self.pos += 1
        return t

    def skip_comments(self) -> None:
        # vppapigen drops comments inside blocks (its yacc error recovery skips them)
        while self.peek().kind == "comment":
            self.pos += 1

    def tok(self) -> Token:
        self.skip_comments()
        return self.next()

    def look(self) -> Token:
        self.skip_comments()
        return self.peek()

    def expect(self, value: str) -> Token:
        t = self.tok()
        if t.kind not in ("punct", "id") or t.value != value:
            raise self.err(f"expected {value!r} before {self._shown(t)}", t)
        return t

    @staticmethod
    def _shown(t: Token) -> str:
        return "end of input" if t.kind == "eof" else repr(t.value)

    def accept(self, value: str) -> bool:
        t = self.look()
        if t.kind in ("punct", "id") and t.value == value:
            self.pos += 1
            return True
        return False

    def ident(self, what: str) -> Token:
        t = self.tok()
        if t.kind != "id" or t.text in RESERVED:
            raise self.err(f"expected {what} before {self._shown(t)}", t)
        return t

    # -- statements -------------------------------------------------------------------
    def parse(self) -> Parsed:
        out = Parsed(self.file, [])
        while True:
            t = self.peek()
            if t.kind == "eof":
                return out
            if t.kind == "comment":
                self.pos += 1
                self.last_comment = t.text
                self.last_comment_end = t.end_line
                continue
            self.statement(out)

    def statement(self, out: Parsed) -> None:
        t = self.tok()
        if t.kind != "id":
            raise self.err(f"syntax error before {self._shown(t)}", t)
        kw = t.text
        if kw == "option":
            out.stmts.append(self.option(t))
        elif kw == "import":
            s = self.tok()
            if s.kind != "str":
                raise self.err("import needs a quoted file name", s)
            self.expect(";")
            if s.text not in self.imported:
                self.imported[s.text] = self.resolve_import(s.text, self.file, s.line)
            out.stmts.append(ImportStmt(s.text, s.line))
        elif kw in {"enum", "enumflag"}:
            out.stmts.append(self.enum(t, kw == "enumflag"))
        elif kw == "service":
            out.stmts.extend(self.service())
        elif kw == "counters":
            out.stmts.append(self.counters())
        elif kw == "paths":
            out.paths.append(self.paths_stmt())
        else:
            flags: list[str] = []
            while kw in FLAGS:
                flags.append(kw)
                t = self.tok()
                kw = t.text
            if kw == "define":
                out.stmts.append(self.define(t, flags))
            elif kw == "typedef":
                out.stmts.append(self.typedef(t, flags))
            elif kw == "union":
                name = self.ident("a union name")
                block = self.block(name.text)
                self.expect(";")
                u = Union(name.text, block, flags, t.line)
                self.check_vla(u.name, u.fields)
                self.register(u.name, u, t)
                out.stmts.append(u)
            else:
                raise self.err(f"syntax error before {self._shown(t)}", t)

    def comment_for(self, line: int) -> str | None:
        c = self.last_comment if line <= self.last_comment_end + 1 else None
        return c

    def register(self, name: str, obj: TypeDef, t: Token) -> None:
        key = vl_name(name)
        if key in self.types:
            raise self.err(f"redefinition of type {name!r}", t)
        self.types[key] = obj

    def assignee(self) -> OptionValue:
        t = self.tok()
        if t.kind in ("num", "str"):
            return t.value
        if t.kind == "id":
            if t.text == "false":
                return False
            if t.text in RESERVED and t.text not in ("true", "type"):
                raise self.err(f"unexpected {t.text!r}", t)
            return t.text
        raise self.err(f"expected a value before {self._shown(t)}", t)

    def option(self, t: Token) -> Option:
        name = self.ident("an option name")
        value: OptionValue = None
        if self.accept("="):
            value = self.assignee()
        self.expect(";")
        return Option(name.text, value, t.line)

    def field_options(self) -> dict[str, OptionValue]:
        # after '[': key [= value] [,] ... ']'
        opts: dict[str, OptionValue] = {}
        while True:
            k = self.tok()
            if k.kind != "id":
                raise self.err(f"expected a field option before {self._shown(k)}", k)
            if self.accept("="):
                opts[k.text] = self.assignee()
                self.accept(",")
            else:
                opts[k.text] = None
            if self.accept("]"):
                return opts

    def type_spec(self) -> Token:
        t = self.tok()
        if t.kind != "id":
            raise self.err(f"expected a type before {self._shown(t)}", t)
        if t.text in BASE_TYPES or t.text == "string":
            return t
        if t.text in RESERVED:
            raise self.err(f"expected a type before {t.text!r}", t)
        if t.text not in self.types:
            raise self.err(f"undefined type: {t.text}", t)
        return t

    def declaration(self, names: list[str]) -> Field:
        ty = self.type_spec()
        nt = self.tok()
        if nt.kind != "id" or (nt.text in RESERVED and nt.text not in VARIABLE_NAME_KEYWORDS):
            raise self.err(f"expected a field name before {self._shown(nt)}", nt)
        name = nt.text
        if keyword.iskeyword(name):
            raise self.err(f"field name {name!r} is a Python keyword", nt)
        if name in names:
            raise self.err(f"duplicate field {name!r}", nt)
        f = Field(ty.text, name, ty.line)
        if self.accept("["):
            t = self.look()
            nxt = self.toks[self.pos + 1] if self.pos + 1 < len(self.toks) else t
            if t.kind == "punct" and t.value == "]":
                self.pos += 1
                f.is_array = True  # modern VLA: only strings may omit the length
                if ty.text != "string":
                    raise self.err(f"array {name!r} has no length (only strings may)", t)
            elif t.kind == "num":
                self.pos += 1
                self.expect("]")
                if not isinstance(t.value, int) or t.value < 0:
                    raise self.err(f"array {name!r}: bad length {t.value!r}", t)
                f.is_array = True
                f.length = t.value
            elif t.kind == "id" and nxt.kind == "punct" and nxt.value == "]":
                self.pos += 2
                if t.text not in names:
                    raise self.err(f"missing length field: {ty.text} {name}[{t.text}]", t)
                f.is_array = True
                f.length_field = t.text
            else:
                f.options = self.field_options()
        elif ty.text == "string":
            raise self.err(f"string {name!r} must be an array (string {name}[N] or [])", ty)
        self.expect(";")
        return f

    def block(self, owner: str) -> list[BlockItem]:
        self.expect("{")
        items: list[BlockItem] = []
        names: list[str] = []
        while not self.accept("}"):
            t = self.look()
            if t.kind == "eof":
                raise self.err(f"unterminated block of {owner!r}", t)
            if t.kind == "id" and t.text == "option":
                self.pos += 1
                items.append(self.option(t))
                continue
            f = self.declaration(names)
            names.append(f.name)
            items.append(f)
        if not any(isinstance(i, Field) for i in items):
            raise self.err(f"{owner!r} has no fields")
        return items

    def check_vla(self, owner: str, fields: list[Field]) -> None:
        for i, f in enumerate(fields):
            vla = f.is_vla or f.is_var_string
            if not vla and not f.is_array and f.type.startswith("vl_api_"):
                vla = _type_is_vla(self.types, f.type)
            if vla and i + 1 < len(fields):
                raise ApiError(
                    self.file, f.line, f"variable-length field {f.name!r} must be last in {owner!r}"
                )
            if f.is_vla:
                lf = next(x for x in fields if x.name == f.length_field)
                if lf.is_array or lf.type not in ("u8", "u16", "u32", "i32"):
                    raise ApiError(
                        self.file, f.line, f"length field {lf.name!r} must be an integer"
                    )

    def define(self, t: Token, flags: list[str]) -> Define:
        if "typeonly" in flags:
            raise self.err("legacy typedef: use typedef", t)
        name = self.ident("a message name")
        comment = self.comment_for(t.line)
        block = self.block(name.text)
        self.expect(";")
        options = {b.name: b.value for b in block if isinstance(b, Option)}
        fields = [b for b in block if isinstance(b, Field)]
        self.check_vla(name.text, fields)
        self.last_comment = None
        return Define(name.text, fields, flags, options, t.line, comment)

    def typedef(self, t: Token, flags: list[str]) -> Typedef | Alias:
        name_or_type = self.look()
        nxt = self.toks[self.pos + 1]
        if name_or_type.kind == "id" and nxt.kind == "punct" and nxt.value == "{":
            name = self.ident("a type name")
            comment = self.comment_for(name.line if flags else t.line)
            block = self.block(name.text)
            self.expect(";")
            td = Typedef(name.text, block, flags, t.line, comment)
            self.check_vla(td.name, td.fields)
            self.register(td.name, td, t)
            self.last_comment = None
            return td
        # alias: typedef <type> <name>[N];
        f = self.declaration([])
        if f.is_vla or (f.is_array and f.length == 0):
            raise self.err(f"alias {f.name!r} must have a fixed length", t)
        alias = Alias(f.name, f.type, f.length if f.is_array else None, flags, t.line)
        self.register(alias.name, alias, t)
        return alias

    def enum(self, t: Token, is_flag: bool) -> Enum:
        name = self.ident("an enum name")
        enumtype = "u32"
        if self.accept(":"):
            s = self.tok()
            allowed = ENUMFLAG_SIZES if is_flag else ENUM_SIZES
            if s.text not in allowed:
                raise self.err(f"enum size must be one of {', '.join(allowed)}", s)
            enumtype = s.text
        self.expect("{")
        items: list[EnumItem] = []
        count = -1
        bc_seen = False
        while not self.accept("}"):
            it = self.ident("an enum member")
            if self.accept("="):
                v = self.tok()
                if v.kind != "num" or not isinstance(v.value, int):
                    raise self.err(f"enum value of {it.text} must be an integer", v)
                count = v.value
            else:
                count += 1
            opts: dict[str, OptionValue] = {}
            if self.accept("["):
                opts = self.field_options()
            self.expect(",")
            bc = "backwards_compatible" in opts
            if bc:
                bc_seen = True
            elif bc_seen:
                raise self.err(f"backward compatible enum members must be last ({it.text})", it)
            if any(i.name == it.text for i in items):
                raise self.err(f"duplicate enum member {it.text}", it)
            if is_flag and bin(count).count("1") > 1:
                raise self.err(f"{name.text} is not a flag enum: {it.text} has several bits", it)
            items.append(EnumItem(it.text, count, bc))
        self.expect(";")
        if not items:
            raise self.err(f"enum {name.text} is empty", t)
        e = Enum(name.text, items, enumtype, is_flag, t.line)
        self.register(e.name, e, t)
        return e

    def service(self) -> list[Service]:
        self.expect("{")
        out: list[Service] = []
        while not self.accept("}"):
            self.expect("rpc")
            caller = self.ident("a message name")
            self.expect("returns")
            r = self.tok()
            if r.kind != "id":
                raise self.err(f"expected a reply before {self._shown(r)}", r)
            if r.text == "null":
                svc = Service(caller.text, "null", caller.line)
            elif r.text == "stream":
                m = self.ident("a stream message")
                svc = Service(caller.text, m.text, caller.line, stream=True)
            else:
                svc = Service(caller.text, r.text, caller.line)
                if self.accept("stream"):
                    sm = self.ident("a stream message")
                    svc.stream = True
                    svc.stream_message = sm.text
                elif self.accept("events"):
                    while True:
                        ev = self.ident("an event name")
                        svc.events.append(ev.text)
                        self.accept(",")
                        if self.look().value == ";":
                            break
            if svc.caller == svc.reply:
                raise self.err(f"reply ID ({svc.reply}) should not be equal to caller ID", caller)
            self.expect(";")
            out.append(svc)
        self.expect(";")
        return out

    def counters(self) -> Counter:
        name = self.ident("a counter set name")
        self.expect("{")
        elems: list[dict[str, str]] = []
        while not self.accept("}"):
            en = self.ident("a counter name")
            self.expect("{")
            d: dict[str, str] = {"name": en.text}
            while not self.accept("}"):
                k = self.tok()
                if k.text not in ("severity", "units", "description", "type"):
                    raise self.err(f"unknown counter attribute {k.text!r}", k)
                v = self.tok()
                d[k.text] = v.text
                self.expect(";")
            self.expect(";")
            elems.append(d)
        self.expect(";")
        return Counter(name.text, elems)

    def paths_stmt(self) -> list[dict[str, str]]:
        self.expect("{")
        out: list[dict[str, str]] = []
        while not self.accept("}"):
            p = self.tok()
            c = self.tok()
            if p.kind != "str" or c.kind != "str":
                raise self.err("paths entries are two quoted strings", p)
            self.expect(";")
            out.append({"path": p.text, "counter": c.text})
        self.expect(";")
        return out


def _type_is_vla(types: dict[str, TypeDef], name: str) -> bool:
    t = types.get(name)
    if isinstance(t, Typedef | Union):
        for f in t.fields:
            if f.is_vla or f.is_var_string:
                return True
            if not f.is_array and f.type.startswith("vl_api_") and _type_is_vla(types, f.type):
                return True
    return False
