"""Hypothesis strategies for random Calico configurations and packets.

Addresses, ports and protocols come from small pools so that rules, ipset members and
packets collide often: most generated packets hit some rule, many hit several.
"""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    ICMPv6Unknown,
    IPv6,
    IPv6ExtHdrFragment,
)
from scapy.layers.sctp import SCTP
from scapy.packet import Raw

from pycontrol.policy.model import (
    Action,
    Config,
    Endpoint,
    EndpointKind,
    IcmpMatch,
    IPPortMember,
    IPSet,
    IPSetType,
    Policy,
    PortRange,
    Rule,
    Tier,
)

V4 = [ipaddress.IPv4Address(f"10.0.{a}.{b}") for a in (0, 1) for b in range(0, 8)]
V6 = [ipaddress.IPv6Address(f"2001:db8:{a}::{b}") for a in (0, 1) for b in range(0, 8)]
PORTS = [0, 1, 53, 80, 443, 1000, 8080, 65535]
PROTOS = [6, 17, 1, 58, 132, 47]
IPSET_IDS = [1, 2, 3, 4, 5]
POLICY_IDS = [1, 2, 3, 4]
PROFILE_IDS = [1, 2]
ENDPOINT_IDS = [1, 2]

addr4 = st.sampled_from(V4)
addr6 = st.sampled_from(V6)
any_addr = st.one_of(addr4, addr6)


@st.composite
def nets(draw: st.DrawFn) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    a = draw(any_addr)
    if a.version == 4:
        length = draw(st.sampled_from([0, 8, 16, 23, 24, 29, 30, 31, 32]))
    else:
        length = draw(st.sampled_from([0, 32, 47, 48, 64, 125, 126, 127, 128]))
    return ipaddress.ip_network(f"{a}/{length}", strict=False)


port_ranges = st.one_of(
    st.sampled_from(PORTS).map(lambda p: PortRange(p, p)),
    st.tuples(st.sampled_from(PORTS), st.sampled_from(PORTS)).map(
        lambda t: PortRange(min(t), max(t))
    ),
)

icmp_match = st.builds(
    IcmpMatch, st.sampled_from([0, 3, 8, 128, 129]), st.one_of(st.none(), st.sampled_from([0, 1]))
)


def _opt_list(elem: st.SearchStrategy, p_empty: int = 3, max_size: int = 3) -> st.SearchStrategy:
    """Mostly empty (rules would rarely match otherwise), sometimes a short list."""
    return st.one_of(
        *([st.just(())] * p_empty), st.lists(elem, min_size=1, max_size=max_size).map(tuple)
    )


def _unique(elem: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.just(()),
        st.just(()),
        st.just(()),
        st.lists(elem, min_size=1, max_size=2, unique=True).map(tuple),
    )


CRITERIA = [
    "protocol",
    "not_protocol",
    "icmp",
    "not_icmp",
    "src_net",
    "not_src_net",
    "dst_net",
    "not_dst_net",
    "src_ports",
    "not_src_ports",
    "dst_ports",
    "not_dst_ports",
    "src_ipsets",
    "not_src_ipsets",
    "dst_ipsets",
    "not_dst_ipsets",
    "src_named_port_ipsets",
    "not_src_named_port_ipsets",
    "dst_named_port_ipsets",
    "not_dst_named_port_ipsets",
    "dst_ip_port_ipsets",
]


@st.composite
def rules(draw: st.DrawFn, ipsets: dict[int, IPSet]) -> Rule:
    """A rule with a few criteria (most rules in real policies have one to three)."""
    addr_sets = sorted(i for i, s in ipsets.items() if s.type is not IPSetType.IP_AND_PORT)
    port_sets = sorted(i for i, s in ipsets.items() if s.type is IPSetType.IP_AND_PORT)
    ip_version = draw(st.sampled_from([0, 0, 0, 4, 6]))
    chosen = set(draw(st.lists(st.sampled_from(CRITERIA), max_size=3, unique=True)))
    kw: dict[str, object] = {}
    for name in chosen:
        if name in ("protocol", "not_protocol"):
            kw[name] = draw(st.sampled_from(PROTOS))
        elif name in ("icmp", "not_icmp"):
            kw[name] = draw(icmp_match)
        elif name.endswith("_net"):
            net = nets()
            if ip_version:
                net = net.filter(lambda n: n.version == ip_version)
            kw[name] = tuple(draw(st.lists(net, min_size=1, max_size=3)))
        elif name.endswith("_ports"):
            kw[name] = tuple(draw(st.lists(port_ranges, min_size=1, max_size=3)))
        else:
            pool = port_sets if "port" in name else addr_sets
            if pool:
                kw[name] = tuple(
                    draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
                )
    return Rule(
        action=draw(
            st.sampled_from(
                [Action.ALLOW, Action.DENY, Action.PASS, Action.LOG, Action.ALLOW, Action.DENY]
            )
        ),
        ip_version=ip_version,
        **kw,  # type: ignore[arg-type]
    )


@st.composite
def ipsets(draw: st.DrawFn) -> dict[int, IPSet]:
    out: dict[int, IPSet] = {}
    for i in draw(st.lists(st.sampled_from(IPSET_IDS), max_size=4, unique=True)):
        t = draw(st.sampled_from(list(IPSetType)))
        if t is IPSetType.IP:
            members = draw(st.frozensets(any_addr, max_size=6))
        elif t is IPSetType.NET:
            members = draw(st.frozensets(nets(), max_size=4))
        else:
            members = draw(
                st.frozensets(
                    st.builds(
                        IPPortMember,
                        any_addr,
                        st.sampled_from([6, 17, 132]),
                        st.sampled_from(PORTS),
                    ),
                    max_size=6,
                )
            )
        out[i] = IPSet(i, t, members)
    return out


@st.composite
def tiers(draw: st.DrawFn, pids: list[int]) -> tuple[Tier, ...]:
    pol = (
        st.lists(st.sampled_from(pids), min_size=0, max_size=3, unique=True).map(tuple)
        if pids
        else st.just(())
    )
    return tuple(
        draw(
            st.lists(
                st.builds(Tier, pol, pol, st.sampled_from([Action.DENY, Action.PASS])),
                min_size=1 if pids else 0,
                max_size=3,
            )
        )
    )


@st.composite
def configs(draw: st.DrawFn) -> Config:
    cfg = Config(ipsets=draw(ipsets()))
    r = rules(cfg.ipsets)
    for pid in draw(st.lists(st.sampled_from(POLICY_IDS), min_size=1, max_size=4, unique=True)):
        cfg.policies[pid] = Policy(
            pid,
            tuple(draw(st.lists(r, min_size=1, max_size=5))),
            tuple(draw(st.lists(r, min_size=1, max_size=5))),
        )
    for pid in draw(st.lists(st.sampled_from(PROFILE_IDS), max_size=2, unique=True)):
        cfg.profiles[pid] = Policy(
            pid, tuple(draw(st.lists(r, max_size=3))), tuple(draw(st.lists(r, max_size=3)))
        )
    pids = sorted(cfg.policies)
    for eid in ENDPOINT_IDS:
        kind = draw(st.sampled_from(list(EndpointKind)))
        host = kind is EndpointKind.HOST
        cfg.endpoints[eid] = Endpoint(
            eid,
            kind,
            draw(tiers(pids)),
            draw(tiers(pids)) if host else (),
            draw(tiers(pids)) if host else (),
            draw(tiers(pids)) if host else (),
            tuple(
                draw(
                    st.lists(
                        st.sampled_from(sorted(cfg.profiles)), min_size=1, max_size=2, unique=True
                    )
                )
            )
            if cfg.profiles
            else (),
        )
    return cfg


@st.composite
def packets(draw: st.DrawFn) -> bytes:
    v6 = draw(st.booleans())
    src, dst = (draw(addr6), draw(addr6)) if v6 else (draw(addr4), draw(addr4))
    l3 = IPv6(src=str(src), dst=str(dst)) if v6 else IP(src=str(src), dst=str(dst))
    kind = draw(
        st.sampled_from(
            ["tcp", "udp", "sctp", "icmp", "icmp_other_family", "gre", "later_frag", "tcp", "udp"]
        )
    )
    sport, dport = draw(st.sampled_from(PORTS)), draw(st.sampled_from(PORTS))
    if kind == "tcp":
        pkt = l3 / TCP(sport=sport, dport=dport)
    elif kind == "udp":
        pkt = l3 / UDP(sport=sport, dport=dport)
    elif kind == "sctp":
        pkt = l3 / SCTP(sport=sport, dport=dport)
    elif kind == "icmp":
        t = draw(st.sampled_from([0, 3, 8, 128, 129, 13]))
        c = draw(st.sampled_from([0, 1]))
        if v6:
            t = draw(st.sampled_from([128, 129, 135, 1]))
            if t == 1:  # an error: it quotes the packet it is about
                pkt = (
                    l3
                    / ICMPv6DestUnreach(code=c)
                    / IPv6(src=str(dst), dst=str(src))
                    / UDP(sport=dport, dport=sport)
                )
            elif t == 128:
                pkt = l3 / ICMPv6EchoRequest(code=c)
            else:
                pkt = l3 / ICMPv6Unknown(type=t, code=c) / Raw(b"\0" * 8)
        elif t == 3:
            pkt = (
                l3
                / ICMP(type=t, code=c)
                / IP(src=str(dst), dst=str(src))
                / UDP(sport=dport, dport=sport)
            )
        else:
            pkt = l3 / ICMP(type=t, code=c) / Raw(b"\0" * 8)
    elif kind == "icmp_other_family":
        # ICMPv6 inside IPv4 / ICMPv4 inside IPv6: not "ICMP" for the rule criteria
        if v6:
            l3.nh = 1
            pkt = l3 / Raw(bytes(ICMP(type=8)))
        else:
            l3.proto = 58
            pkt = l3 / Raw(b"\x80\x00\x00\x00\x00\x01\x00\x01")
    elif kind == "gre":
        if v6:
            l3.nh = 47
        else:
            l3.proto = 47
        pkt = l3 / Raw(b"\0" * 8)
    else:
        if v6:
            pkt = l3 / IPv6ExtHdrFragment(offset=8, nh=6, m=0) / Raw(b"\0" * 16)
        else:
            l3.proto = 6
            l3.frag = 8
            pkt = l3 / Raw(b"\0" * 16)
    return bytes(pkt)
