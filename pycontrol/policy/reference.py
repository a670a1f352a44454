"""The reference evaluator: Calico policy semantics in plain Python, the executable spec the
native classifier is tested against. Short on purpose; docs/policy.md explains each rule.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field

from pycontrol.common.packet import Flag, PacketView, Status
from pycontrol.policy.model import (
    Action,
    Config,
    Direction,
    EndpointKind,
    IPAddress,
    IPPortMember,
    IPSetType,
    Rule,
    Stage,
)


class Verdict(enum.IntEnum):  # cp/policy_hook.h CP_VERDICT_*
    NONE = 0
    ALLOW = 1
    DENY = 2


class Reason(enum.IntEnum):  # CP_POLICY_REASON_*
    RULE = 0
    TIER_DEFAULT = 1
    PROFILE_END = 2
    NO_DECISION = 3
    NO_ENDPOINT = 4
    BAD_PACKET = 5


class Owner(enum.IntEnum):
    POLICY = 0
    PROFILE = 1


@dataclass(frozen=True, slots=True)
class Match:
    reason: Reason
    owner_kind: Owner = Owner.POLICY
    owner_id: int = 0
    rule: int = 0
    tier: int = 0


@dataclass(slots=True)
class Result:
    verdict: Verdict
    match: Match
    hits: list[tuple[Owner, int, Direction, int]] = field(default_factory=list)  # counted rules


@dataclass(frozen=True, slots=True)
class _Pkt:
    af: int
    src: IPAddress
    dst: IPAddress
    proto: int
    ports: tuple[int, int] | None  # TCP/UDP/SCTP with an L4 header
    icmp: tuple[int, int] | None  # ICMP of the packet's family with an L4 header


def _pkt(v: PacketView) -> _Pkt:
    assert v.src is not None and v.dst is not None
    l4 = bool(v.flags & Flag.HAS_L4) and not v.flags & Flag.LATER_FRAG
    ports = (v.sport, v.dport) if l4 and v.proto in (6, 17, 132) else None
    icmp_proto = 1 if v.af == 4 else 58
    icmp = (v.icmp_type, v.icmp_code) if l4 and v.proto == icmp_proto else None
    return _Pkt(v.af, v.src, v.dst, v.proto, ports, icmp)


def _in_set(cfg: Config, set_id: int, addr: IPAddress) -> bool:
    s = cfg.ipsets[set_id]
    if s.type is IPSetType.IP:
        return addr in s.members
    return any(
        isinstance(m, ipaddress.IPv4Network | ipaddress.IPv6Network)
        and m.version == addr.version
        and addr in m
        for m in s.members
    )


def _in_ipport(cfg: Config, set_id: int, addr: IPAddress, proto: int, port: int) -> bool:
    return (
        IPPortMember(addr, proto, port) in cfg.ipsets[set_id].members
        if proto in (6, 17, 132)
        else False
    )


def _icmp_ok(m_type: int, m_code: int | None, t: int, c: int) -> bool:
    return m_type == t and (m_code is None or m_code == c)


def rule_matches(cfg: Config, r: Rule, p: _Pkt) -> bool:
    """Every criterion present must hold (criteria combine with AND)."""
    if r.ip_version and r.ip_version != p.af:
        return False
    if r.protocol is not None and p.proto != r.protocol:
        return False
    if r.not_protocol is not None and p.proto == r.not_protocol:
        return False
    # nets: any-of among the nets of the packet's family; a list naming only the other
    # family never matches (Felix renders such a rule for that family only)
    for nets, addr in ((r.src_net, p.src), (r.dst_net, p.dst)):
        if nets and not any(n.version == p.af and addr in n for n in nets):
            return False
    for nets, addr in ((r.not_src_net, p.src), (r.not_dst_net, p.dst)):
        if any(n.version == p.af and addr in n for n in nets):
            return False
    # ICMP criteria need an ICMP packet of the packet's own family
    if r.icmp or r.not_icmp:
        if p.icmp is None:
            return False
        if r.icmp and not _icmp_ok(r.icmp.type, r.icmp.code, *p.icmp):
            return False
        if r.not_icmp and _icmp_ok(r.not_icmp.type, r.not_icmp.code, *p.icmp):
            return False
    # ports: any port criterion needs a packet with ports; numeric ports OR named ports
    for side, addr in ((0, p.src), (1, p.dst)):
        ports = (r.src_ports, r.dst_ports)[side]
        named = (r.src_named_port_ipsets, r.dst_named_port_ipsets)[side]
        not_ports = (r.not_src_ports, r.not_dst_ports)[side]
        not_named = (r.not_src_named_port_ipsets, r.not_dst_named_port_ipsets)[side]
        ipport = r.dst_ip_port_ipsets if side == 1 else ()
        if not (ports or named or not_ports or not_named or ipport):
            continue
        if p.ports is None:
            return False
        port = p.ports[side]
        if (ports or named) and not (
            any(port in pr for pr in ports)
            or any(_in_ipport(cfg, s, addr, p.proto, port) for s in named)
        ):
            return False
        if any(port in pr for pr in not_ports):
            return False
        if any(_in_ipport(cfg, s, addr, p.proto, port) for s in not_named):
            return False
        if not all(_in_ipport(cfg, s, addr, p.proto, port) for s in ipport):
            return False
    # address sets: all-of; negated sets: none-of
    if not all(_in_set(cfg, s, p.src) for s in r.src_ipsets):
        return False
    if not all(_in_set(cfg, s, p.dst) for s in r.dst_ipsets):
        return False
    if any(_in_set(cfg, s, p.src) for s in r.not_src_ipsets):
        return False
    return not any(_in_set(cfg, s, p.dst) for s in r.not_dst_ipsets)


def evaluate(
    cfg: Config, endpoint: int, stage: Stage, direction: Direction, view: PacketView
) -> Result:
    """The verdict for a flow's first packet at an endpoint's evaluation point."""
    ep = cfg.endpoints.get(endpoint)
    if ep is None:
        return Result(Verdict.NONE, Match(Reason.NO_ENDPOINT))
    applies = stage is Stage.NORMAL or (
        ep.kind is EndpointKind.HOST
        and not (stage is Stage.PRE_DNAT and direction is Direction.EGRESS)
    )
    if not applies:
        return Result(Verdict.NONE, Match(Reason.NO_DECISION))
    if view.status is not Status.OK or view.af not in (4, 6):
        return Result(Verdict.DENY, Match(Reason.BAD_PACKET))
    p = _pkt(view)
    hits: list[tuple[Owner, int, Direction, int]] = []

    def run(owner: Owner, pid: int) -> tuple[Action, int] | None:
        """The first allow/deny/pass of one policy or profile (log rules count and go on)."""
        pol = (cfg.policies if owner is Owner.POLICY else cfg.profiles)[pid]
        for i, r in enumerate(pol.rules(direction)):
            if rule_matches(cfg, r, p):
                hits.append((owner, pid, direction, i))
                if r.action is not Action.LOG:
                    return r.action, i
        return None

    for ti, tier in enumerate(ep.stage_tiers(stage)):
        pids = tier.policies(direction)
        if not pids:
            continue  # a tier with no policy for this direction does not apply
        hit = None
        for pid in pids:
            hit = run(Owner.POLICY, pid)
            if hit is not None:
                break
        if hit is not None and hit[0] in (Action.ALLOW, Action.DENY):
            verdict = Verdict.ALLOW if hit[0] is Action.ALLOW else Verdict.DENY
            return Result(verdict, Match(Reason.RULE, Owner.POLICY, pid, hit[1], ti), hits)
        missed = hit is None
        if missed and stage in (Stage.NORMAL, Stage.FORWARD) and tier.default_action is Action.DENY:
            return Result(Verdict.DENY, Match(Reason.TIER_DEFAULT, tier=ti), hits)
        # pass, or a miss in a pass-by-default / pre-DNAT / untracked tier: next tier
    if stage is not Stage.NORMAL:
        return Result(Verdict.NONE, Match(Reason.NO_DECISION), hits)
    for pid in ep.profiles:
        hit = run(Owner.PROFILE, pid)
        if hit is not None and hit[0] in (Action.ALLOW, Action.DENY):
            verdict = Verdict.ALLOW if hit[0] is Action.ALLOW else Verdict.DENY
            return Result(verdict, Match(Reason.RULE, Owner.PROFILE, pid, hit[1]), hits)
    return Result(Verdict.DENY, Match(Reason.PROFILE_END), hits)
