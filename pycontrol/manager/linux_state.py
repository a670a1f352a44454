"""The saved picture of an uplink as Linux configured it: what restore puts back.

Plain pydantic models, so the state file is validated JSON and round-trips exactly.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Literal

from pydantic import BaseModel, ConfigDict

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

# linux/if_addr.h: the address flags an administrator sets (the others are kernel state)
IFA_F_NODAD = 0x02
IFA_F_HOMEADDRESS = 0x10
IFA_F_MANAGETEMPADDR = 0x100
IFA_F_NOPREFIXROUTE = 0x200
IFA_F_MCAUTOJOIN = 0x400
CONFIG_ADDR_FLAGS = (
    IFA_F_NODAD | IFA_F_HOMEADDRESS | IFA_F_MANAGETEMPADDR | IFA_F_NOPREFIXROUTE | IFA_F_MCAUTOJOIN
)
FOREVER = 0xFFFFFFFF

# linux/rtnetlink.h
RTPROT_KERNEL = 2
RT_TABLE_MAIN = 254
RT_TABLE_LOCAL = 255
RTN_UNICAST = 1
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LinuxAddress(_Model):
    """One address as `ip addr` shows it."""

    address: IpInterface
    scope: int = 0
    flags: int = 0  # only CONFIG_ADDR_FLAGS
    label: str | None = None  # kept only when it is not the interface name
    broadcast: ipaddress.IPv4Address | None = None
    valid_lft: int = FOREVER
    preferred_lft: int = FOREVER

    @property
    def family(self) -> int:
        return socket.AF_INET if self.address.version == 4 else socket.AF_INET6

    @property
    def is_link_local(self) -> bool:
        return self.address.ip.is_link_local


class LinuxRoute(_Model):
    """One route through the uplink, with everything `ip route` needs to add it back."""

    family: Literal[4, 6]
    dst: IpNetwork
    gateway: IpAddress | None = None
    table: int = RT_TABLE_MAIN
    metric: int | None = None
    proto: int = 3  # RTPROT_BOOT, what `ip route add` uses
    scope: int = RT_SCOPE_UNIVERSE
    type: int = RTN_UNICAST
    prefsrc: IpAddress | None = None
    onlink: bool = False

    @property
    def is_default(self) -> bool:
        return self.dst.prefixlen == 0

    @property
    def is_connected(self) -> bool:
        return self.gateway is None

    @property
    def kernel_managed(self) -> bool:
        """Routes the kernel adds by itself when an address or the link comes up."""
        return self.proto == RTPROT_KERNEL or self.table == RT_TABLE_LOCAL or self.type != 1

    def sort_key(self) -> tuple[int, int, int]:
        """Connected first, default last, then longest prefix first: dependency order."""
        return (0 if self.is_connected else 1, 1 if self.is_default else 0, -self.dst.prefixlen)


class LinuxInterfaceState(_Model):
    """Everything restore needs, plus what the driver choice and startup.conf need."""

    name: str
    ifindex: int
    mtu: int
    mac: str
    is_up: bool
    promisc: bool
    addresses: tuple[LinuxAddress, ...]
    routes: tuple[LinuxRoute, ...]
    kind: str | None = None  # IFLA_INFO_KIND: veth, tun, ... (None for hardware)
    driver: str | None = None  # kernel driver from sysfs
    pci_id: str | None = None  # from sysfs, for PCI devices
    num_rx_queues: int = 1
    num_tx_queues: int = 1
    netns: str | None = None  # named netns it was in; None: the manager's own

    def sorted_routes(self) -> list[LinuxRoute]:
        return sorted(self.routes, key=LinuxRoute.sort_key)

    def restorable_routes(self) -> list[LinuxRoute]:
        """Routes to add back: the kernel re-creates the rest with the addresses."""
        return [r for r in self.sorted_routes() if not r.kernel_managed]

    def has_v4(self) -> bool:
        return any(a.address.version == 4 for a in self.addresses)

    def has_v6(self) -> bool:
        return any(a.address.version == 6 and not a.is_link_local for a in self.addresses)

    def global_addresses(self) -> list[LinuxAddress]:
        return [a for a in self.addresses if not a.is_link_local]


class SavedState(_Model):
    """The state file: the uplink's picture and whether VPP may currently own it."""

    version: Literal[1] = 1
    uplink: LinuxInterfaceState
    driver: str
    vpp_owns_uplink: bool = False
