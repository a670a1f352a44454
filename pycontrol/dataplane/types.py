"""Value types crossing the dataplane seam."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

INVALID_INDEX = 0xFFFFFFFF


class RxMode(enum.IntEnum):
    """VPP's rx_mode enum values."""

    POLLING = 1
    INTERRUPT = 2
    ADAPTIVE = 3


@dataclass(frozen=True)
class QueueSpec:
    rx_queues: int = 1
    tx_queues: int = 1
    rx_size: int = 1024
    tx_size: int = 1024


@dataclass(frozen=True)
class Route:
    """A route in the dataplane: ``dst`` via ``gateway`` (None: attached) out of ``sw_if_index``."""

    dst: IpNetwork
    sw_if_index: int
    gateway: IpAddress | None = None
    table: int = 0
    preference: int = 0


@dataclass(frozen=True)
class TapSpec:
    """A tap between the dataplane and a Linux network namespace."""

    host_if_name: str
    host_mac: str
    host_mtu: int
    host_netns: str  # name under /run/netns or an absolute path (/proc/PID/ns/net)
    queues: QueueSpec = QueueSpec()
    tag: str = ""
