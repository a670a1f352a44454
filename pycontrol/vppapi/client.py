"""Bulk programming over a transport, with every reply checked.

:class:`PluginClient` sends requests of one plugin (encoded with its message classes),
matches replies to requests by context and raises :class:`ApiCallError` for a request
whose reply carries a non-zero ``retval`` (or that got no reply). ``call_many`` sends a
whole list in batches (one transport exchange per batch): that is how 10k translations or
100k ipset members are programmed without a round trip per message.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from pycontrol.vppapi.codec import MessageTable, MessageType
from pycontrol.vppapi.transport import Transport

log = structlog.get_logger(__name__)

# VPP's return values this project's handlers use (vnet/error.h)
RETVAL_NAMES = {
    -1: "UNSPECIFIED",
    -2: "INVALID_SW_IF_INDEX",
    -6: "NO_SUCH_ENTRY",
    -7: "INVALID_VALUE",
    -8: "INVALID_VALUE_2",
    -9: "UNIMPLEMENTED",
    -73: "INVALID_ARGUMENT",
    -97: "INVALID_ADDRESS_FAMILY",
    -99: "TABLE_TOO_BIG",
    -116: "ENTRY_ALREADY_EXISTS",
    -147: "INSTANCE_IN_USE",
    -153: "INVALID_PROTOCOL",
    -162: "LIMIT_EXCEEDED",
}

_CTX = struct.Struct(">I")


class ApiCallError(RuntimeError):
    def __init__(self, message: str, retval: int | None, index: int) -> None:
        name = RETVAL_NAMES.get(retval, str(retval)) if retval is not None else "no reply"
        super().__init__(f"{message}[{index}]: {name} ({retval})")
        self.message = message
        self.retval = retval
        self.index = index


@dataclass(frozen=True)
class Reply:
    name: str
    values: dict[str, Any]


class PluginClient:
    def __init__(self, transport: Transport, table: MessageTable, batch: int = 1024) -> None:
        self.t = transport
        self.table = table
        self.batch = batch
        self._ids: dict[str, int] = {}
        self._by_id: dict[int, MessageType] = {}
        for m in table:
            i = transport.msg_id(m.name_crc)
            self._ids[m.name] = i
            self._by_id[i] = m
        self._context = 0

    def _next_context(self) -> int:
        self._context = (self._context + 1) & 0x7FFFFFFF
        return self._context

    def encode(self, name: str, values: Mapping[str, Any], context: int) -> bytes:
        return self.table[name].encode(
            {**values, "_vl_msg_id": self._ids[name], "client_index": 0, "context": context}
        )

    def decode(self, msg: bytes) -> Reply:
        (mid,) = struct.unpack_from(">H", msg, 0)
        mt = self._by_id.get(mid)
        if mt is None:
            raise ApiCallError(f"message id {mid}", None, 0)
        return Reply(mt.name, mt.decode(msg))

    def _exchange(self, name: str, items: Sequence[Mapping[str, Any]]) -> dict[int, list[bytes]]:
        """Send items; replies and details grouped by the index of their request."""
        contexts = [self._next_context() for _ in items]
        reqs = [self.encode(name, v, c) for v, c in zip(items, contexts, strict=True)]
        by_ctx = {c: i for i, c in enumerate(contexts)}
        out: dict[int, list[bytes]] = {}
        for r in self.t.exchange(reqs):
            (ctx,) = _CTX.unpack_from(r, 2)
            i = by_ctx.get(ctx)
            if i is not None:
                out.setdefault(i, []).append(r)
        return out

    def call_many(self, name: str, items: Iterable[Mapping[str, Any]]) -> list[Reply]:
        """Send every request (in batches), check every reply, return them in order."""
        replies: list[Reply] = []
        chunk: list[Mapping[str, Any]] = []
        for v in items:
            chunk.append(v)
            if len(chunk) == self.batch:
                replies += self._checked(name, chunk, len(replies))
                chunk = []
        if chunk:
            replies += self._checked(name, chunk, len(replies))
        log.debug("vppapi.call_many", message=name, n=len(replies))
        return replies

    def _checked(self, name: str, chunk: Sequence[Mapping[str, Any]], first: int) -> list[Reply]:
        got = self._exchange(name, chunk)
        out: list[Reply] = []
        for i in range(len(chunk)):
            msgs = got.get(i)
            if not msgs:
                raise ApiCallError(name, None, first + i)
            rep = self.decode(msgs[0])
            rv = int(rep.values.get("retval", 0))
            if rv:
                raise ApiCallError(name, rv, first + i)
            out.append(rep)
        return out

    def call(self, name: str, **values: Any) -> Reply:
        return self.call_many(name, [values])[0]

    def try_call(self, name: str, **values: Any) -> int | None:
        """The reply's retval (None: no reply), without raising: for probing bad input."""
        got = self._exchange(name, [values])
        if 0 not in got:
            return None
        return int(self.decode(got[0][0]).values["retval"])

    def dump(self, name: str, **values: Any) -> list[dict[str, Any]]:
        """A *_dump request: the decoded details, in order."""
        got = self._exchange(name, [values])
        return [self.decode(m).values for m in got.get(0, [])]

    def iter_dump(self, name: str, **values: Any) -> Iterator[dict[str, Any]]:
        yield from self.dump(name, **values)
