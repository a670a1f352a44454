"""Typed wrapper over the native DNAT core (``calico_dnat.h``) through pycontrol._native.

Nothing else in the project touches the cffi objects: configuration goes in as model
objects, packets as bytes, results come out as frozen dataclasses.
"""

from __future__ import annotations

import enum
import errno
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from pycontrol._native import ffi, lib
from pycontrol.dnat.model import (
    Backend,
    DnatConfig,
    HashField,
    IPAddress,
    IPNetwork,
    NatPrefixKind,
    Protocol,
    ServiceOptions,
    Translation,
    VipKind,
)

log = structlog.get_logger(__name__)

INVALID_ID = 0xFFFFFFFF
MAX_BURST = 256


class DnatError(Exception):
    """A native call failed; ``errno`` holds the (positive) error number."""

    def __init__(self, what: str, rv: int) -> None:
        self.errno = -rv
        super().__init__(f"{what}: {os.strerror(-rv)} ({errno.errorcode.get(-rv, '?')})")


def _check(what: str, rv: int) -> int:
    if rv < 0:
        raise DnatError(what, rv)
    return rv


class Next(enum.IntEnum):
    FORWARD = 0
    DROP = 1


class Outcome(enum.IntEnum):
    """Drop / outcome reasons (CDN_E_*)."""

    NONE = 0
    NO_BACKEND = 1
    VIP_NO_PORT = 2
    SESSION_LIMIT = 3
    SNAT_EXHAUSTED = 4
    SNAT_UNCONFIGURED = 5
    CLASH = 6
    POLICY_DENY = 7


class ResultFlag(enum.IntFlag):
    DNAT = 1
    SNAT = 2
    REVERSE = 4
    NEW = 8
    ICMP_ERROR = 16
    NO_NAT = 32
    HAIRPIN = 64
    TRACKED = 128


class Verdict(enum.IntEnum):
    NONE = 0
    ALLOW = 1
    DENY = 2


class TcpState(enum.IntEnum):
    SYN = 0
    ESTABLISHED = 1
    CLOSING = 2


class Counter(enum.IntEnum):
    PACKETS = 0
    REWRITTEN = 1
    PASSED = 2
    UNPARSED = 3
    FRAGMENTS = 4
    SESSIONS_CREATED = 5
    SESSIONS_EXPIRED = 6
    SESSIONS_STALE = 7
    ICMP_ERRORS = 8
    POLICY_EVALS = 9
    AFFINITY_HITS = 10


@dataclass(frozen=True, slots=True)
class Meta:
    """Per-packet context: where the packet comes from, for traffic policies and SNAT."""

    from_pod: bool = False
    endpoint: int = 0
    egress: bool = False


@dataclass(frozen=True, slots=True)
class Result:
    packet: bytes
    next: Next
    outcome: Outcome
    flags: ResultFlag
    verdict: Verdict
    session: int | None
    backend: int | None


@dataclass(frozen=True, slots=True)
class Session:
    index: int
    family: int
    protocol: int
    client: IPAddress
    client_port: int
    vip: IPAddress
    vip_port: int
    backend: IPAddress
    backend_port: int
    snat: IPAddress
    snat_port: int
    backend_id: int | None
    expires_ms: int
    tcp_state: TcpState
    verdict: Verdict
    policy_generation: int
    flags: ResultFlag
    out_verdict: Verdict  # the output policy point's cached verdict
    out_endpoint: int


def _addr_c(addr: IPAddress) -> Any:
    a = ffi.new("cp_addr_t *")
    raw = addr.packed
    ffi.memmove(a.b, raw, len(raw))
    return a


def _addr_py(family: int, a: Any) -> IPAddress:
    raw = bytes(ffi.buffer(a.b, 16))
    return ipaddress.IPv4Address(raw[:4]) if family == 4 else ipaddress.IPv6Address(raw)


def _c_packets(packets: Sequence[bytes]) -> tuple[list[Any], Any, Any]:
    """C copies of packets for a burst call: the buffers (kept alive by the caller), the
    array of their pointers and their lengths."""
    bufs = [ffi.new("uint8_t[]", p if p else b"\0") for p in packets]
    return bufs, ffi.new("uint8_t *[]", bufs), ffi.new("uint32_t[]", [len(p) for p in packets])


class DnatCore:
    """One DNAT context: configuration (control thread) and per-worker processing."""

    def __init__(self, config: DnatConfig | None = None) -> None:
        cfg = config or DnatConfig()
        c = ffi.new("cdn_config_t *")
        c.n_workers = cfg.workers
        c.max_sessions = cfg.max_sessions
        c.max_translations = cfg.max_translations
        c.max_backends = cfg.max_backends
        c.affinity_entries = cfg.affinity_entries
        c.hash_seed = cfg.hash_seed
        c.snat_port_min = cfg.snat_port_min
        c.snat_port_max = cfg.snat_port_max
        c.tcp_syn_ms = cfg.tcp_syn_ms
        c.tcp_established_ms = cfg.tcp_established_ms
        c.tcp_closing_ms = cfg.tcp_closing_ms
        c.udp_ms = cfg.udp_ms
        c.icmp_ms = cfg.icmp_ms
        c.other_ms = cfg.other_ms
        c.owner_first = cfg.owner_first
        err = ffi.new("int *")
        ctx = lib.cdn_create(c, err)
        if ctx == ffi.NULL:
            raise DnatError("create", err[0])
        self._ctx: Any = ffi.gc(ctx, lib.cdn_destroy)
        self.workers = cfg.workers
        self._res = ffi.new("cdn_result_t[]", MAX_BURST)
        self._meta = ffi.new("cdn_meta_t[]", MAX_BURST)

    @property
    def handle(self) -> Any:
        """The native context (for benchmarks and test helpers in C)."""
        return self._ctx

    # ---- translations ----------------------------------------------------------------------
    def update(self, t: Translation) -> int:
        """Create or replace the translation with t's key; returns its id."""
        be = ffi.new("cdn_backend_t[]", max(len(t.backends), 1))
        for i, b in enumerate(t.backends):
            raw = b.address.packed
            ffi.memmove(be[i].addr.b, raw, len(raw))
            be[i].port = b.port
            be[i].weight = b.weight
            be[i].af = b.address.version
            be[i].flags = (
                (1 if b.local else 0) | (2 if b.terminating else 0) | (4 if b.no_nat else 0)
            )
        c = ffi.new("cdn_translation_t *")
        if t.vip is not None:
            raw = t.vip.packed
            ffi.memmove(c.vip.b, raw, len(raw))
        c.port = t.port
        c.proto = int(t.protocol)
        c.af = t.family
        c.kind = int(t.kind)
        o = t.options
        c.flags = (
            (1 if o.external_traffic_local else 0)
            | (2 if o.internal_traffic_local else 0)
            | (4 if o.affinity_timeout_s is not None else 0)
        )
        c.hash_fields = int(o.hash_fields)
        c.affinity_timeout_s = o.affinity_timeout_s or 0
        c.n_backends = len(t.backends)
        c.backends = be
        out = ffi.new("uint32_t *")
        _check("translation update", lib.cdn_translation_update(self._ctx, c, out))
        log.debug("dnat.translation", id=out[0], vip=str(t.vip), port=t.port, n=len(t.backends))
        return int(out[0])

    def delete(self, translation_id: int) -> None:
        _check("translation delete", lib.cdn_translation_del(self._ctx, translation_id))

    def find(
        self, vip: IPAddress | None, protocol: Protocol, port: int, family: int = 0
    ) -> int | None:
        kind = VipKind.NODE_PORT if vip is None else VipKind.CLUSTER_IP
        af = vip.version if vip is not None else family
        a = _addr_c(vip) if vip is not None else ffi.new("cp_addr_t *")
        out = ffi.new("uint32_t *")
        rv = lib.cdn_translation_find(self._ctx, af, a, int(protocol), port, int(kind), out)
        return None if rv < 0 else int(out[0])

    def get(self, translation_id: int) -> Translation:
        """Read a translation back from the core (as the core holds it)."""
        c = ffi.new("cdn_translation_t *")
        n = _check(
            "translation get", lib.cdn_translation_get(self._ctx, translation_id, c, ffi.NULL, 0)
        )
        be = ffi.new("cdn_backend_t[]", max(n, 1))
        _check("translation get", lib.cdn_translation_get(self._ctx, translation_id, c, be, n))
        af = int(c.af)
        backends = tuple(
            Backend(
                address=_addr_py(af, be[i].addr),
                port=int(be[i].port),
                weight=int(be[i].weight),
                local=bool(be[i].flags & 1),
                terminating=bool(be[i].flags & 2),
                no_nat=bool(be[i].flags & 4),
            )
            for i in range(n)
        )
        kind = VipKind(c.kind)
        flags = int(c.flags)
        options = ServiceOptions(
            external_traffic_local=bool(flags & 1),
            internal_traffic_local=bool(flags & 2),
            affinity_timeout_s=int(c.affinity_timeout_s) if flags & 4 else None,
            hash_fields=HashField(int(c.hash_fields)),
        )
        return Translation(
            vip=None if kind is VipKind.NODE_PORT else _addr_py(af, c.vip),
            port=int(c.port),
            protocol=Protocol(c.proto),
            kind=kind,
            backends=backends,
            options=options,
            family=af,
        )

    def translation_ids(self) -> list[int]:
        ids: list[int] = []
        i = lib.cdn_translation_next(self._ctx, INVALID_ID)
        while i != INVALID_ID:
            ids.append(int(i))
            i = lib.cdn_translation_next(self._ctx, i)
        return ids

    # ---- node addresses, SNAT -------------------------------------------------------------
    def add_node_address(self, addr: IPAddress) -> None:
        _check("node address add", lib.cdn_node_addr_add(self._ctx, addr.version, _addr_c(addr)))

    def del_node_address(self, addr: IPAddress) -> None:
        _check("node address del", lib.cdn_node_addr_del(self._ctx, addr.version, _addr_c(addr)))

    def set_snat_address(self, family: int, addr: IPAddress | None) -> None:
        a = _addr_c(addr) if addr is not None else ffi.NULL
        _check("snat address", lib.cdn_snat_addr_set(self._ctx, family, a))

    def add_snat_prefix(self, kind: NatPrefixKind, net: IPNetwork) -> None:
        a = _addr_c(net.network_address)
        _check(
            "snat prefix add",
            lib.cdn_snat_prefix_add(self._ctx, int(kind), net.version, a, net.prefixlen),
        )

    def del_snat_prefix(self, kind: NatPrefixKind, net: IPNetwork) -> None:
        a = _addr_c(net.network_address)
        _check(
            "snat prefix del",
            lib.cdn_snat_prefix_del(self._ctx, int(kind), net.version, a, net.prefixlen),
        )

    # ---- packets ---------------------------------------------------------------------------
    def process(
        self,
        packets: Sequence[bytes],
        now_ms: int = 0,
        worker: int = 0,
        meta: Sequence[Meta] | Meta | None = None,
    ) -> list[Result]:
        """Run packets (each starting at its IP header) through one worker, in bursts."""
        out: list[Result] = []
        for off in range(0, len(packets), MAX_BURST):
            chunk = packets[off : off + MAX_BURST]
            ms = meta[off : off + MAX_BURST] if isinstance(meta, Sequence) else None
            out.extend(
                self._burst(chunk, now_ms, worker, ms, meta if isinstance(meta, Meta) else None)
            )
        return out

    def owners(self, packets: Sequence[bytes], worker: int = 0) -> list[int]:
        """The worker that owns each packet's flow (cdn_flow_owner_burst), asked from
        `worker`'s thread: where a multi-threaded host hands the packet before process()."""
        out: list[int] = []
        for off in range(0, len(packets), MAX_BURST):
            chunk = packets[off : off + MAX_BURST]
            _bufs, data, lens = _c_packets(chunk)
            own = ffi.new("uint16_t[]", len(chunk))
            lib.cdn_flow_owner_burst(self._ctx, worker, data, lens, len(chunk), own)
            out.extend(int(own[i]) for i in range(len(chunk)))
        return out

    def _burst(
        self,
        packets: Sequence[bytes],
        now_ms: int,
        worker: int,
        metas: Sequence[Meta] | None,
        one: Meta | None,
    ) -> list[Result]:
        n = len(packets)
        bufs, data, lens = _c_packets(packets)
        m = ffi.NULL
        if metas is not None or one is not None:
            m = self._meta
            for i in range(n):
                mi = metas[i] if metas is not None else one
                assert mi is not None
                m[i].from_pod = 1 if mi.from_pod else 0
                m[i].endpoint = mi.endpoint
                m[i].dir = 1 if mi.egress else 0
        lib.cdn_process_burst(self._ctx, worker, data, lens, m, n, now_ms & 0xFFFFFFFF, self._res)
        res: list[Result] = []
        for i in range(n):
            r = self._res[i]
            res.append(
                Result(
                    packet=bytes(ffi.buffer(bufs[i], len(packets[i]))),
                    next=Next(r.next),
                    outcome=Outcome(r.error),
                    flags=ResultFlag(r.flags),
                    verdict=Verdict(r.verdict),
                    session=None if r.session == INVALID_ID else int(r.session),
                    backend=None if r.backend == INVALID_ID else int(r.backend),
                )
            )
        return res

    # ---- sessions, counters ----------------------------------------------------------------
    def sessions(self, worker: int = 0) -> list[Session]:
        out: list[Session] = []
        info = ffi.new("cdn_session_info_t *")
        i = lib.cdn_session_next(self._ctx, worker, INVALID_ID)
        while i != INVALID_ID:
            if lib.cdn_session_get(self._ctx, worker, i, info) == 0:
                af = info.af
                out.append(
                    Session(
                        index=int(i),
                        family=af,
                        protocol=info.proto,
                        client=_addr_py(af, info.client),
                        client_port=info.client_port,
                        vip=_addr_py(af, info.vip),
                        vip_port=info.vip_port,
                        backend=_addr_py(af, info.backend),
                        backend_port=info.backend_port,
                        snat=_addr_py(af, info.snat),
                        snat_port=info.snat_port,
                        backend_id=None if info.backend_id == INVALID_ID else info.backend_id,
                        expires_ms=info.expires_ms,
                        tcp_state=TcpState(info.tcp_state),
                        verdict=Verdict(info.verdict),
                        policy_generation=info.policy_generation,
                        flags=ResultFlag(info.flags),
                        out_verdict=Verdict(info.out_verdict),
                        out_endpoint=info.out_endpoint,
                    )
                )
            i = lib.cdn_session_next(self._ctx, worker, i)
        return out

    def cache_out_verdict(
        self, index: int, endpoint: int, verdict: Verdict, worker: int = 0
    ) -> None:
        """What the output policy point does in VPP: store its verdict in the session."""
        c = lib.cdn_session_out_cache(self._ctx, worker, index)
        if c == ffi.NULL:
            raise DnatError(f"out verdict, session {index}", -errno.ENOENT)
        c.endpoint = endpoint
        c.verdict = int(verdict)

    def session_count(self, worker: int = 0) -> int:
        return int(lib.cdn_sessions_count(self._ctx, worker))

    def expire(self, now_ms: int, worker: int = 0, budget: int = 0) -> int:
        return int(lib.cdn_expire(self._ctx, worker, now_ms & 0xFFFFFFFF, budget))

    def flush(self, worker: int = 0) -> int:
        return int(lib.cdn_sessions_flush(self._ctx, worker))

    def snat_ports_in_use(self, worker: int = 0) -> int:
        return int(lib.cdn_snat_ports_in_use(self._ctx, worker))

    def snat_port_worker(self, port: int) -> int | None:
        """The worker whose SNAT port slice holds ``port``."""
        w = int(lib.cdn_snat_port_worker(self._ctx, port))
        return None if w == INVALID_ID else w

    def bytes_per_flow(self) -> float:
        return float(lib.cdn_session_bytes_per_flow(self._ctx))

    def counters(self, worker: int = 0) -> dict[str, int]:
        buf = ffi.new("uint64_t[]", lib.CDN_CNT_N)
        _check("counters", lib.cdn_counters_get(self._ctx, worker, buf))
        out = {c.name.lower(): int(buf[c.value]) for c in Counter}
        for e in Outcome:
            if e is not Outcome.NONE:
                out[f"error_{e.name.lower()}"] = int(buf[lib.CDN_CNT_ERR_BASE + e.value])
        return out


class TestPolicy:
    """The core's small test classifier (deny by destination port) behind the policy hook."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        p = lib.cdn_test_policy_create()
        if p == ffi.NULL:
            raise MemoryError
        self._p: Any = ffi.gc(p, lib.cdn_test_policy_destroy)

    def attach(self, core: DnatCore) -> None:
        _check("policy attach", lib.cdn_test_policy_attach(self._p, core.handle))

    @staticmethod
    def detach(core: DnatCore) -> None:
        _check("policy detach", lib.cdn_test_policy_detach(core.handle))

    def deny_port(self, port: int) -> None:
        _check("deny port", lib.cdn_test_policy_deny_dport(self._p, port))

    def clear(self) -> None:
        lib.cdn_test_policy_clear(self._p)

    @property
    def calls(self) -> int:
        return int(lib.cdn_test_policy_calls(self._p))


def maglev_table(
    backends: Sequence[tuple[IPAddress, int, int]], m: int, seed: int = 0
) -> list[int]:
    """Build a weighted Maglev table over (address, port, weight) backends."""
    n = len(backends)
    addr = ffi.new("cp_addr_t[]", max(n, 1))
    port = ffi.new("uint16_t[]", max(n, 1))
    wt = ffi.new("uint16_t[]", max(n, 1))
    for i, (a, p, w) in enumerate(backends):
        raw = a.packed
        ffi.memmove(addr[i].b, raw, len(raw))
        port[i] = p
        wt[i] = w
    table = ffi.new("uint16_t[]", m)
    _check("maglev build", lib.cdn_maglev_build(addr, port, wt, n, m, seed, table))
    return list(table)


def maglev_size(n_backends: int) -> int:
    return int(lib.cdn_maglev_size_for(n_backends))
