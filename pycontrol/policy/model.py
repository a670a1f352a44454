"""Typed model of Calico policy as Felix hands it to a dataplane (felixbackend.proto:
IPSetUpdate, Rule, Policy, Profile, TierInfo, WorkloadEndpoint, HostEndpoint).

Objects are named by 32-bit ids (the control plane maps Felix's string ids to them).
Values are validated on construction: a bad CIDR, an inverted port range or an
address-family mismatch raises :class:`PolicyError` before anything reaches a dataplane.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class PolicyError(ValueError):
    """Invalid policy input; the message says what and where."""


class IPSetType(enum.IntEnum):  # Felix IPSetUpdate.IPSetType numbering
    IP = 0
    IP_AND_PORT = 1
    NET = 2


class Action(enum.IntEnum):
    ALLOW = 1
    DENY = 2
    PASS = 3  # "pass" / "next-tier"
    LOG = 4

    @classmethod
    def parse(cls, text: str) -> Action:
        names = {
            "allow": cls.ALLOW,
            "deny": cls.DENY,
            "pass": cls.PASS,
            "next-tier": cls.PASS,
            "log": cls.LOG,
        }
        try:
            return names[text.lower()]
        except KeyError:
            raise PolicyError(f"unknown rule action {text!r}") from None


class Stage(enum.IntEnum):
    NORMAL = 0  # workload ingress/egress; host endpoint to/from the host itself
    FORWARD = 1  # host endpoint, forwarded traffic (apply-on-forward)
    PRE_DNAT = 2  # host endpoint, ingress before DNAT
    UNTRACKED = 3  # host endpoint, before connection tracking


class Direction(enum.IntEnum):
    INGRESS = 0  # towards the endpoint: a policy's inbound rules
    EGRESS = 1  # from the endpoint: outbound rules


def point(stage: Stage, direction: Direction) -> int:
    return int(stage) << 1 | int(direction)


PROTOCOLS: Mapping[str, int] = {
    "tcp": 6,
    "udp": 17,
    "icmp": 1,
    "icmpv6": 58,
    "sctp": 132,
    "udplite": 136,
}


def protocol_number(p: int | str) -> int:
    if isinstance(p, str):
        if p.lower() not in PROTOCOLS:
            raise PolicyError(f"unknown protocol name {p!r}")
        return PROTOCOLS[p.lower()]
    if not 0 <= p <= 255:
        raise PolicyError(f"protocol {p} out of 0..255")
    return p


def network(text: str | IPNetwork) -> IPNetwork:
    """A CIDR; host bits set is an error (as Felix never sends them)."""
    if isinstance(text, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return text
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as e:
        raise PolicyError(f"bad CIDR {text!r}: {e}") from None


@dataclass(frozen=True, slots=True)
class PortRange:
    first: int
    last: int

    def __post_init__(self) -> None:
        if not (0 <= self.first <= 0xFFFF and 0 <= self.last <= 0xFFFF):
            raise PolicyError(f"port range {self.first}-{self.last} out of 0..65535")
        if self.first > self.last:
            raise PolicyError(f"port range {self.first}-{self.last} is inverted")

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last


@dataclass(frozen=True, slots=True)
class IcmpMatch:
    type: int
    code: int | None = None  # None: any code

    def __post_init__(self) -> None:
        if not 0 <= self.type <= 255 or (self.code is not None and not 0 <= self.code <= 255):
            raise PolicyError(f"ICMP type/code {self.type}/{self.code} out of 0..255")


@dataclass(frozen=True, slots=True)
class IPPortMember:
    addr: IPAddress
    proto: int
    port: int

    def __post_init__(self) -> None:
        if self.proto not in (6, 17, 132):
            raise PolicyError(f"IP_AND_PORT member protocol {self.proto} is not tcp/udp/sctp")
        if not 0 <= self.port <= 0xFFFF:
            raise PolicyError(f"IP_AND_PORT member port {self.port} out of range")


Member = IPAddress | IPNetwork | IPPortMember


@dataclass(frozen=True, slots=True)
class IPSet:
    id: int
    type: IPSetType
    members: frozenset[Member] = frozenset()

    def __post_init__(self) -> None:
        for m in self.members:
            check_member(self.type, m)


def check_member(t: IPSetType, m: Member) -> None:
    ok = (
        (t is IPSetType.IP and isinstance(m, ipaddress.IPv4Address | ipaddress.IPv6Address))
        or (t is IPSetType.NET and isinstance(m, ipaddress.IPv4Network | ipaddress.IPv6Network))
        or (t is IPSetType.IP_AND_PORT and isinstance(m, IPPortMember))
    )
    if not ok:
        raise PolicyError(f"member {m!r} does not belong in a {t.name} set")


@dataclass(frozen=True, slots=True)
class Rule:
    """Felix ``Rule``. Lists: ``*_net`` any-of; ``not_*_net`` none-of; ``*_ipsets`` all-of;
    ``not_*_ipsets`` none-of; ports any-of together with the named-port sets; ``not_*_ports``
    and ``not_*_named_port_ipsets`` none-of; ``dst_ip_port_ipsets`` all-of."""

    action: Action
    ip_version: int = 0
    protocol: int | None = None
    not_protocol: int | None = None
    icmp: IcmpMatch | None = None
    not_icmp: IcmpMatch | None = None
    src_net: tuple[IPNetwork, ...] = ()
    not_src_net: tuple[IPNetwork, ...] = ()
    dst_net: tuple[IPNetwork, ...] = ()
    not_dst_net: tuple[IPNetwork, ...] = ()
    src_ports: tuple[PortRange, ...] = ()
    not_src_ports: tuple[PortRange, ...] = ()
    dst_ports: tuple[PortRange, ...] = ()
    not_dst_ports: tuple[PortRange, ...] = ()
    src_ipsets: tuple[int, ...] = ()
    not_src_ipsets: tuple[int, ...] = ()
    dst_ipsets: tuple[int, ...] = ()
    not_dst_ipsets: tuple[int, ...] = ()
    src_named_port_ipsets: tuple[int, ...] = ()
    not_src_named_port_ipsets: tuple[int, ...] = ()
    dst_named_port_ipsets: tuple[int, ...] = ()
    not_dst_named_port_ipsets: tuple[int, ...] = ()
    dst_ip_port_ipsets: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.ip_version not in (0, 4, 6):
            raise PolicyError(f"ip_version {self.ip_version} is not 0, 4 or 6")
        for p in (self.protocol, self.not_protocol):
            if p is not None:
                protocol_number(p)
        for name in ("src_net", "not_src_net", "dst_net", "not_dst_net"):
            for n in getattr(self, name):
                if self.ip_version and n.version != self.ip_version:
                    raise PolicyError(
                        f"{name}: IPv{n.version} CIDR {n} in an IPv{self.ip_version} rule"
                    )

    def ipset_ids(self) -> set[int]:
        return {
            *self.src_ipsets,
            *self.not_src_ipsets,
            *self.dst_ipsets,
            *self.not_dst_ipsets,
            *self.src_named_port_ipsets,
            *self.not_src_named_port_ipsets,
            *self.dst_named_port_ipsets,
            *self.not_dst_named_port_ipsets,
            *self.dst_ip_port_ipsets,
        }


@dataclass(frozen=True, slots=True)
class Policy:
    """A Felix ``Policy`` or ``Profile``: ordered inbound and outbound rules."""

    id: int
    inbound: tuple[Rule, ...] = ()
    outbound: tuple[Rule, ...] = ()

    def rules(self, d: Direction) -> tuple[Rule, ...]:
        return self.inbound if d is Direction.INGRESS else self.outbound


class EndpointKind(enum.IntEnum):
    WORKLOAD = 0
    HOST = 1


@dataclass(frozen=True, slots=True)
class Tier:
    """Felix ``TierInfo``: ordered policy ids per direction and the tier's default action
    (deny, or pass to the next tier)."""

    ingress_policies: tuple[int, ...] = ()
    egress_policies: tuple[int, ...] = ()
    default_action: Action = Action.DENY

    def __post_init__(self) -> None:
        if self.default_action not in (Action.DENY, Action.PASS):
            raise PolicyError("a tier's default action is deny or pass")

    def policies(self, d: Direction) -> tuple[int, ...]:
        return self.ingress_policies if d is Direction.INGRESS else self.egress_policies


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A workload endpoint (``tiers`` + ``profiles``) or a host endpoint (also forward,
    pre-DNAT and untracked tiers), bound to an interface id."""

    id: int
    kind: EndpointKind = EndpointKind.WORKLOAD
    tiers: tuple[Tier, ...] = ()
    forward_tiers: tuple[Tier, ...] = ()
    pre_dnat_tiers: tuple[Tier, ...] = ()
    untracked_tiers: tuple[Tier, ...] = ()
    profiles: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind is EndpointKind.WORKLOAD and (
            self.forward_tiers or self.pre_dnat_tiers or self.untracked_tiers
        ):
            raise PolicyError("forward/pre-DNAT/untracked tiers are for host endpoints")

    def stage_tiers(self, s: Stage) -> tuple[Tier, ...]:
        return {
            Stage.NORMAL: self.tiers,
            Stage.FORWARD: self.forward_tiers,
            Stage.PRE_DNAT: self.pre_dnat_tiers,
            Stage.UNTRACKED: self.untracked_tiers,
        }[s]


@dataclass(slots=True)
class Config:
    """A whole configuration snapshot: what the reference evaluator reads."""

    ipsets: dict[int, IPSet] = field(default_factory=dict)
    policies: dict[int, Policy] = field(default_factory=dict)
    profiles: dict[int, Policy] = field(default_factory=dict)
    endpoints: dict[int, Endpoint] = field(default_factory=dict)
