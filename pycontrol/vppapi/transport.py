"""Transports: how request bytes reach a plugin's handlers and replies come back.

- :class:`InProcessTransport`: the C handlers of ``vpp-plugins/*/api`` in this process
  (``pycontrol._native``), over a core context it owns. A whole batch of requests is one
  C call; replies are collected in C and returned together.
- :class:`VppSocketTransport`: VPP's API socket through ``vpp_papi``; message ids come
  from VPP's message table (``name_crc`` -> id), so the bytes are the ones tested here.

Both speak wire bytes with the plugin's message ids already set (see ``msg_id``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pycontrol.vppapi.codec import MessageTable

_LEN = struct.Struct(">I")


class TransportError(RuntimeError):
    """The transport could not deliver a request or got no reply for it."""


class Transport(Protocol):
    def msg_id(self, name_crc: str) -> int: ...

    def exchange(self, requests: Sequence[bytes]) -> list[bytes]:
        """Send requests in order; return every reply and details message, in order."""
        ...

    def close(self) -> None: ...


def frame(requests: Sequence[bytes]) -> bytes:
    """[u32 length (big-endian)][message] records: the batch format of *_api_handle_batch."""
    return b"".join(_LEN.pack(len(r)) + r for r in requests)


def unframe(buf: bytes) -> list[bytes]:
    out: list[bytes] = []
    off = 0
    while off < len(buf):
        (n,) = _LEN.unpack_from(buf, off)
        out.append(buf[off + 4 : off + 4 + n])
        off += 4 + n
    return out


@dataclass(frozen=True)
class NativePlugin:
    """The C entry points of one plugin's handlers in ``pycontrol._native``."""

    prefix: str  # "cdn" or "cpol"
    module: str


DNAT = NativePlugin("cdn", "calico_dnat")
POLICY = NativePlugin("cpol", "calico_policy")


class InProcessTransport:
    """The plugin's C handlers over a core created here (embedded dataplane, tests)."""

    def __init__(
        self,
        plugin: NativePlugin,
        table: MessageTable,
        *,
        core: Any | None = None,
        msg_id_base: int = 1024,
        n_workers: int = 1,
        limits: dict[str, int] | None = None,
    ) -> None:
        """limits: fields of the core's config (cdn_config_t / cp_policy_params_t) to set
        when the core is created here, e.g. {"max_translations": 16384}."""
        from pycontrol._native import ffi, lib  # noqa: PLC0415 (optional extension)

        self._ffi = ffi
        self._lib = lib
        self.plugin = plugin
        self.base = msg_id_base
        self._own_core = core is None
        if plugin.prefix == "cdn":
            if core is None:
                cfg = ffi.new("cdn_config_t *")
                cfg.n_workers = n_workers
                cfg.max_sessions = 4096
                for k, v in (limits or {}).items():
                    setattr(cfg, k, v)
                err = ffi.new("int *")
                core = lib.cdn_create(cfg, err)
                if core == ffi.NULL:
                    raise TransportError(f"cdn_create failed ({err[0]})")
            self._api = lib.cdn_api_create(core, n_workers, msg_id_base)
            self._handle_batch = lib.cdn_api_handle_batch
            self._destroy_api = lib.cdn_api_destroy
            self._destroy_core = lib.cdn_destroy
            names = [
                ffi.string(lib.cdn_api_msg_name_crc(i)).decode()
                for i in range(lib.cdn_api_msg_count())
            ]
        else:
            if core is None:
                params = ffi.new("cp_policy_params_t *")
                params.n_workers = n_workers
                for k, v in (limits or {}).items():
                    setattr(params, k, v)
                core = lib.cp_policy_create(params)
                if core == ffi.NULL:
                    raise TransportError("cp_policy_create failed")
            self._api = lib.cpol_api_create(core, msg_id_base)
            self._handle_batch = lib.cpol_api_handle_batch
            self._destroy_api = lib.cpol_api_destroy
            self._destroy_core = lib.cp_policy_destroy
            names = [
                ffi.string(lib.cpol_api_msg_name_crc(i)).decode()
                for i in range(lib.cpol_api_msg_count())
            ]
        self.core = core
        if self._api == ffi.NULL:
            raise TransportError(f"{plugin.prefix}_api_create failed")
        ours = [m.name_crc for m in table]
        if names != ours:
            raise TransportError(
                f"{plugin.module}: the compiled handlers and the .api disagree on the message table"
            )
        self._ids = {n: msg_id_base + i for i, n in enumerate(names)}
        self._out = ffi.new("cp_api_collect_t *")

    def msg_id(self, name_crc: str) -> int:
        try:
            return self._ids[name_crc]
        except KeyError:
            raise TransportError(f"unknown message {name_crc}") from None

    def exchange(self, requests: Sequence[bytes]) -> list[bytes]:
        blob = frame(requests)
        self._lib.cp_api_collect_reset(self._out)
        rc = self._handle_batch(
            self._api, blob, len(blob), self._lib.cp_api_collect_send, self._out
        )
        if rc < 0:
            raise TransportError("batch framing rejected")
        if self._out.oom:
            raise TransportError("out of memory collecting replies")
        return unframe(bytes(self._ffi.buffer(self._out.buf, self._out.len)))

    def close(self) -> None:
        if self._api is not None:
            self._destroy_api(self._api)
            self._api = None
            self._lib.cp_api_collect_free(self._out)
            if self._own_core:
                self._destroy_core(self.core)

    def __enter__(self) -> InProcessTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VppSocketTransport:
    """A running VPP's API socket, through vpp_papi (which also reads VPP's message table).

    ``json_files`` must include VPP's core API files (memclnt, vpe) and the plugin's
    ``.api.json`` generated by this package."""

    def __init__(self, json_files: Sequence[str], socket_path: str = "/run/vpp/api.sock") -> None:
        from vpp_papi import VPPApiClient  # type: ignore[import-untyped]  # noqa: PLC0415

        self._vpp = VPPApiClient(apifiles=list(json_files), server_address=socket_path)
        self._vpp.connect("pycontrol-vppapi")
        self._ping_id = self._index("control_ping_51077d14")

    def _index(self, name_crc: str) -> int:
        # VPP's message table as the socket handshake returned it (newer vpp_papi has no
        # VPPApiClient.get_msg_index)
        return int(self._vpp.transport.message_table.get(name_crc, 0xFFFF))

    def msg_id(self, name_crc: str) -> int:
        i = self._index(name_crc)
        if i == 0xFFFF or i < 0:
            raise TransportError(f"VPP does not know {name_crc}")
        return i

    def exchange(self, requests: Sequence[bytes]) -> list[bytes]:
        t = self._vpp.transport
        out: list[bytes] = []
        me = struct.pack(">I", t.socket_index)
        for r in requests:
            # VPP replies to the registration named by client_index (after the u16 id)
            t.write(r[:2] + me + r[6:])
        # a control ping after the batch: its reply marks the end of the replies/details
        ping = struct.pack(">HII", self._ping_id, t.socket_index, 0xFFFFFFFF)
        t.write(ping)
        while True:
            msg = t.read()
            if msg is None:
                raise TransportError("VPP closed the API socket")
            if struct.unpack_from(">I", msg, 2)[0] == 0xFFFFFFFF:
                return out
            out.append(bytes(msg))

    def close(self) -> None:
        self._vpp.disconnect()
