"""Typed wrapper over the native calico_policy core (``pycontrol._native``).

Pushes model objects into the C core, builds/publishes, classifies bursts of packets and
reads counters. Nothing outside this module touches the policy cffi declarations.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pycontrol._native import ffi, lib
from pycontrol.common.packet import Burst
from pycontrol.policy.model import (
    Config,
    Direction,
    Endpoint,
    IPNetwork,
    IPPortMember,
    IPSet,
    Member,
    Policy,
    PolicyError,
    PortRange,
    Rule,
    Stage,
    Tier,
    point,
)
from pycontrol.policy.reference import Match, Owner, Reason, Verdict

BURST = 256


class NativePolicyError(PolicyError):
    """The C core refused a change (the previous state is intact)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} ({ffi.string(lib.cp_policy_strerror(code)).decode()})")
        self.code = code


@dataclass(frozen=True, slots=True)
class Counter:
    packets: int
    bytes: int


class _Keep:
    """cffi allocations that must outlive one call."""

    def __init__(self) -> None:
        self.objs: list[Any] = []

    def new(self, ctype: str, init: Any) -> Any:
        o = ffi.new(ctype, init)
        self.objs.append(o)
        return o


def _set_addr(dst: Any, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    ffi.memmove(dst.b, addr.packed, len(addr.packed))


def _fill_member(m: Any, v: Member) -> None:
    if isinstance(v, IPPortMember):
        _set_addr(m.addr, v.addr)
        m.af = v.addr.version
        m.len = v.addr.max_prefixlen
        m.proto = v.proto
        m.port = v.port
    elif isinstance(v, ipaddress.IPv4Network | ipaddress.IPv6Network):
        _set_addr(m.addr, v.network_address)
        m.af = v.version
        m.len = v.prefixlen
    else:
        _set_addr(m.addr, v)
        m.af = v.version
        m.len = v.max_prefixlen


def _members(keep: _Keep, ms: Iterable[Member]) -> tuple[Any, int]:
    lst = list(ms)
    arr = keep.new("cp_policy_member_t[]", max(1, len(lst)))
    for i, v in enumerate(lst):
        _fill_member(arr[i], v)
    return arr, len(lst)


def _ids(keep: _Keep, dst: Any, ids: Sequence[int]) -> None:
    dst.ids = keep.new("uint32_t[]", list(ids)) if ids else ffi.NULL
    dst.n = len(ids)


def _nets(keep: _Keep, dst: Any, nets: Sequence[IPNetwork]) -> None:
    if not nets:
        dst.v, dst.n = ffi.NULL, 0
        return
    arr = keep.new("cp_policy_cidr_t[]", len(nets))
    for i, n in enumerate(nets):
        _set_addr(arr[i].addr, n.network_address)
        arr[i].af = n.version
        arr[i].len = n.prefixlen
    dst.v, dst.n = arr, len(nets)


def _ports(keep: _Keep, dst: Any, ports: Sequence[PortRange]) -> None:
    if not ports:
        dst.v, dst.n = ffi.NULL, 0
        return
    dst.v = keep.new("cp_policy_port_range_t[]", [(p.first, p.last) for p in ports])
    dst.n = len(ports)


def _fill_rule(keep: _Keep, c: Any, r: Rule) -> None:
    c.action = int(r.action)
    c.ip_version = r.ip_version
    if r.protocol is not None:
        c.has_protocol, c.protocol = 1, r.protocol
    if r.not_protocol is not None:
        c.has_not_protocol, c.not_protocol = 1, r.not_protocol
    if r.icmp is not None:
        c.icmp = 1 if r.icmp.code is None else 2
        c.icmp_type, c.icmp_code = r.icmp.type, r.icmp.code or 0
    if r.not_icmp is not None:
        c.not_icmp = 1 if r.not_icmp.code is None else 2
        c.not_icmp_type, c.not_icmp_code = r.not_icmp.type, r.not_icmp.code or 0
    for name in ("src_net", "not_src_net", "dst_net", "not_dst_net"):
        _nets(keep, getattr(c, name), getattr(r, name))
    for name in ("src_ports", "not_src_ports", "dst_ports", "not_dst_ports"):
        _ports(keep, getattr(c, name), getattr(r, name))
    for name in (
        "src_ipsets",
        "not_src_ipsets",
        "dst_ipsets",
        "not_dst_ipsets",
        "src_named_port_ipsets",
        "not_src_named_port_ipsets",
        "dst_named_port_ipsets",
        "not_dst_named_port_ipsets",
        "dst_ip_port_ipsets",
    ):
        _ids(keep, getattr(c, name), getattr(r, name))


def _rules(keep: _Keep, rules: Sequence[Rule]) -> Any:
    arr = keep.new("cp_policy_rule_t[]", max(1, len(rules)))
    for i, r in enumerate(rules):
        _fill_rule(keep, arr[i], r)
    return arr


def _tiers(keep: _Keep, dst: Any, tiers: Sequence[Tier]) -> None:
    if not tiers:
        dst.v, dst.n = ffi.NULL, 0
        return
    arr = keep.new("cp_policy_tier_t[]", len(tiers))
    for i, t in enumerate(tiers):
        arr[i].default_action = int(t.default_action)
        _ids(keep, arr[i].ingress_policies, t.ingress_policies)
        _ids(keep, arr[i].egress_policies, t.egress_policies)
    dst.v, dst.n = arr, len(tiers)


class NativePolicy:
    """One calico_policy core context (its own epoch domain and published tables)."""

    def __init__(self, n_workers: int = 1, max_ipset_members: int = 0, max_list: int = 0) -> None:
        params = ffi.new("cp_policy_params_t *")
        params.n_workers = n_workers
        params.max_ipset_members = max_ipset_members
        params.max_list = max_list
        self._p = lib.cp_policy_create(params)
        if self._p == ffi.NULL:
            raise MemoryError("cp_policy_create failed")

    def close(self) -> None:
        if self._p != ffi.NULL:
            lib.cp_policy_destroy(self._p)
            self._p = ffi.NULL

    def __enter__(self) -> NativePolicy:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    @property
    def handle(self) -> Any:
        return self._p

    def _check(self, rc: int) -> None:
        if rc < 0:
            raise NativePolicyError(rc, ffi.string(lib.cp_policy_last_error(self._p)).decode())

    # ---- configuration ---------------------------------------------------------------
    def ipset_update(self, s: IPSet) -> None:
        keep = _Keep()
        arr, n = _members(keep, s.members)
        self._check(lib.cp_policy_ipset_update(self._p, s.id, int(s.type), arr, n))

    def ipset_delta(
        self, set_id: int, add: Iterable[Member] = (), remove: Iterable[Member] = ()
    ) -> None:
        keep = _Keep()
        a, na = _members(keep, add)
        d, nd = _members(keep, remove)
        self._check(lib.cp_policy_ipset_delta(self._p, set_id, a, na, d, nd))

    def ipset_remove(self, set_id: int) -> None:
        self._check(lib.cp_policy_ipset_remove(self._p, set_id))

    def ipset_size(self, set_id: int) -> int:
        n = int(lib.cp_policy_ipset_size(self._p, set_id))
        self._check(n)
        return n

    def policy_update(self, pol: Policy) -> None:
        keep = _Keep()
        self._check(
            lib.cp_policy_policy_update(
                self._p,
                pol.id,
                _rules(keep, pol.inbound),
                len(pol.inbound),
                _rules(keep, pol.outbound),
                len(pol.outbound),
            )
        )

    def policy_remove(self, pid: int) -> None:
        self._check(lib.cp_policy_policy_remove(self._p, pid))

    def profile_update(self, pro: Policy) -> None:
        keep = _Keep()
        self._check(
            lib.cp_policy_profile_update(
                self._p,
                pro.id,
                _rules(keep, pro.inbound),
                len(pro.inbound),
                _rules(keep, pro.outbound),
                len(pro.outbound),
            )
        )

    def profile_remove(self, pid: int) -> None:
        self._check(lib.cp_policy_profile_remove(self._p, pid))

    def endpoint_update(self, ep: Endpoint) -> None:
        keep = _Keep()
        c = keep.new("cp_policy_endpoint_t *", None)
        c.kind = int(ep.kind)
        _tiers(keep, c.tiers, ep.tiers)
        _tiers(keep, c.forward_tiers, ep.forward_tiers)
        _tiers(keep, c.pre_dnat_tiers, ep.pre_dnat_tiers)
        _tiers(keep, c.untracked_tiers, ep.untracked_tiers)
        _ids(keep, c.profiles, ep.profiles)
        self._check(lib.cp_policy_endpoint_update(self._p, ep.id, c))

    def endpoint_remove(self, eid: int) -> None:
        self._check(lib.cp_policy_endpoint_remove(self._p, eid))

    def build(self) -> int:
        self._check(lib.cp_policy_build(self._p))
        return self.generation

    def apply(self, cfg: Config) -> int:
        """Push a whole configuration (dependencies first) and build."""
        for s in cfg.ipsets.values():
            self.ipset_update(s)
        for p in cfg.policies.values():
            self.policy_update(p)
        for p in cfg.profiles.values():
            self.profile_update(p)
        for e in cfg.endpoints.values():
            self.endpoint_update(e)
        return self.build()

    @property
    def generation(self) -> int:
        return int(lib.cp_policy_generation(self._p))

    @property
    def memory_bytes(self) -> int:
        return int(lib.cp_policy_memory_bytes(self._p))

    # ---- classification --------------------------------------------------------------
    def classify(
        self,
        packets: Sequence[bytes],
        endpoints: Sequence[int],
        stages: Sequence[Stage],
        directions: Sequence[Direction],
        worker: int = 0,
    ) -> list[tuple[Verdict, Match]]:
        """Classify packets (IP header first), packet i at (endpoints[i], stages[i],
        directions[i]), in bursts of up to 256 through the batch entry point."""
        n = len(packets)
        if not (len(endpoints) == len(stages) == len(directions) == n):
            raise ValueError("one endpoint, stage and direction per packet")
        burst = Burst(packets)
        burst.parse()
        out: list[tuple[Verdict, Match]] = []
        for base in range(0, n, BURST):
            m = min(BURST, n - base)
            ptrs = ffi.new("const cp_pkt_t *[]", [burst.views + base + i for i in range(m)])
            eps = ffi.new("uint32_t[]", list(endpoints[base : base + m]))
            pts = ffi.new(
                "uint8_t[]", [point(stages[base + i], directions[base + i]) for i in range(m)]
            )
            verdict = ffi.new("uint8_t[]", m)
            match = ffi.new("cp_policy_match_t[]", m)
            lib.cp_policy_classify_burst(self._p, worker, ptrs, eps, pts, m, verdict, match)
            for i in range(m):
                mt = match[i]
                reason = Reason(mt.reason)
                if reason is Reason.RULE:
                    mm = Match(
                        reason, Owner(mt.owner_kind), int(mt.owner_id), int(mt.rule), int(mt.tier)
                    )
                elif reason is Reason.TIER_DEFAULT:
                    mm = Match(reason, tier=int(mt.tier))
                else:
                    mm = Match(reason)
                out.append((Verdict(verdict[i]), mm))
        return out

    # ---- counters --------------------------------------------------------------------
    def rule_counter(self, owner: Owner, oid: int, direction: Direction, rule: int) -> Counter:
        c = ffi.new("cp_policy_counter_t *")
        self._check(lib.cp_policy_rule_counter(self._p, int(owner), oid, int(direction), rule, c))
        return Counter(int(c.packets), int(c.bytes))

    def endpoint_counters(
        self, eid: int, stage: Stage, direction: Direction
    ) -> dict[Verdict, Counter]:
        c = ffi.new("cp_policy_counter_t[3]")
        self._check(lib.cp_policy_endpoint_counters(self._p, eid, point(stage, direction), c))
        return {v: Counter(int(c[v].packets), int(c[v].bytes)) for v in Verdict}
