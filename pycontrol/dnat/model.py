"""The DNAT model: translations keyed by (VIP, protocol, port) with weighted backends and
the Kubernetes service options that shape them. Plain frozen dataclasses, validated at
construction, so a bad object never reaches the native core."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class VipKind(enum.IntEnum):
    """How the VIP is reached (Kubernetes Service types)."""

    CLUSTER_IP = 0
    EXTERNAL_IP = 1
    LOAD_BALANCER = 2
    NODE_PORT = 3  # every address of the node is the VIP


class Protocol(enum.IntEnum):
    TCP = 6
    UDP = 17
    SCTP = 132


class HashField(enum.IntFlag):
    """Flow-hash fields Maglev uses to pick a backend (cp/flowhash.h)."""

    SRC_ADDR = 1
    DST_ADDR = 2
    PROTO = 4
    SRC_PORT = 8
    DST_PORT = 16
    SYMMETRIC = 32
    FIVE_TUPLE = 31


class NatPrefixKind(enum.IntEnum):
    NAT_OUTGOING = 0  # sources (IP pools with natOutgoing) whose traffic leaving is SNATed
    EXCLUDE = 1  # destinations never SNATed (cluster pools, service CIDRs)


def _port(value: int, what: str) -> None:
    if not 1 <= value <= 65535:
        raise ValueError(f"{what} must be 1..65535, got {value}")


@dataclass(frozen=True, slots=True)
class Backend:
    """An endpoint of a service."""

    address: IPAddress
    port: int
    weight: int = 1
    local: bool = False  # runs on this node
    terminating: bool = False  # used only when no ready backend remains
    no_nat: bool = False  # DSR: forwarded with the VIP kept as destination

    def __post_init__(self) -> None:
        _port(self.port, "backend port")
        if not 0 <= self.weight <= 65535:
            raise ValueError(f"backend weight must be 0..65535, got {self.weight}")


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """The Service fields that change how traffic is balanced."""

    external_traffic_local: bool = False  # externalTrafficPolicy: Local
    internal_traffic_local: bool = False  # internalTrafficPolicy: Local
    affinity_timeout_s: int | None = None  # sessionAffinity: ClientIP (None: off)
    hash_fields: HashField = HashField.FIVE_TUPLE

    def __post_init__(self) -> None:
        if self.affinity_timeout_s is not None and not 1 <= self.affinity_timeout_s <= 86400:
            raise ValueError("affinity timeout must be 1..86400 s (Kubernetes' range)")
        if not self.hash_fields:
            raise ValueError("hash_fields must select at least one field")


@dataclass(frozen=True, slots=True)
class Translation:
    """VIP:port/protocol -> weighted backends. For NodePort the VIP is None."""

    vip: IPAddress | None
    port: int
    protocol: Protocol
    kind: VipKind = VipKind.CLUSTER_IP
    backends: tuple[Backend, ...] = ()
    options: ServiceOptions = field(default_factory=ServiceOptions)
    family: int = 0  # 4 or 6; taken from the VIP unless NodePort

    def __post_init__(self) -> None:
        _port(self.port, "service port")
        if self.kind is VipKind.NODE_PORT:
            if self.vip is not None:
                raise ValueError("a NodePort translation has no VIP (every node address is)")
            if self.family not in (4, 6):
                raise ValueError("a NodePort translation needs family=4 or family=6")
        else:
            if self.vip is None:
                raise ValueError(f"a {self.kind.name} translation needs a VIP")
            fam = self.vip.version
            if self.family not in (0, fam):
                raise ValueError("family does not match the VIP")
            object.__setattr__(self, "family", fam)
        seen: set[tuple[IPAddress, int]] = set()
        for b in self.backends:
            if b.address.version != self.family:
                raise ValueError(f"backend {b.address} is not IPv{self.family}")
            if (b.address, b.port) in seen:
                raise ValueError(f"duplicate backend {b.address}:{b.port}")
            seen.add((b.address, b.port))


@dataclass(frozen=True, slots=True)
class DnatConfig:
    """Limits and timeouts of a DNAT context (0 selects the core's default)."""

    workers: int = 1
    max_sessions: int = 65536  # per worker
    max_translations: int = 0
    max_backends: int = 0
    affinity_entries: int = 0
    hash_seed: int = 0
    snat_port_min: int = 0
    snat_port_max: int = 0
    tcp_syn_ms: int = 0
    tcp_established_ms: int = 0
    tcp_closing_ms: int = 0
    udp_ms: int = 0
    icmp_ms: int = 0
    other_ms: int = 0
    owner_first: int = 0  # flows are owned by workers owner_first.. (VPP: 1 with workers)
