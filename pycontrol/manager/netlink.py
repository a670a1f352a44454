"""The netlink operations the manager needs, over pyroute2: discovery and apply.

Every function takes the network namespace by name (None: the manager's own) and opens a
short-lived ``IPRoute`` for it, so no netlink socket outlives a step.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pyroute2 import IPRoute, netns  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from pycontrol.manager.errors import DiscoveryError, ManagerError
from pycontrol.manager.linux_state import (
    CONFIG_ADDR_FLAGS,
    FOREVER,
    LinuxAddress,
    LinuxInterfaceState,
    LinuxRoute,
)

IFF_UP = 0x1
IFF_PROMISC = 0x100
RTNH_F_ONLINK = 0x4
SELF_NETNS = "/proc/self/ns/net"


@contextlib.contextmanager
def iproute(ns: str | None) -> Iterator[Any]:
    ipr = IPRoute(netns=ns) if ns else IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def netns_exists(name: str) -> bool:
    return name in netns.listnetns()


def create_netns(name: str) -> None:
    if not netns_exists(name):
        netns.create(name)


def remove_netns(name: str) -> None:
    if netns_exists(name):
        netns.remove(name)


def link_index(name: str, ns: str | None = None) -> int | None:
    if ns is not None and not netns_exists(ns):
        return None
    with iproute(ns) as ipr:
        found: list[int] = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def _sysfs_device(name: str, sysfs: Path) -> tuple[str | None, str | None]:
    """(kernel driver, PCI id) of a netdev from sysfs, None where it has none."""
    dev = sysfs / "class" / "net" / name / "device"
    if not dev.exists():
        return None, None
    real = dev.resolve()
    # a virtio netdev hangs off virtioN (driver virtio_net), whose parent is the PCI function
    # (driver virtio-pci): the PCI function's driver is the one a rebind changes
    if real.name.startswith("virtio") and (real.parent / "vendor").exists():
        real = real.parent
    driver_link = real / "driver"
    driver = driver_link.resolve().name if driver_link.exists() else None
    pci = real.name if (real / "vendor").exists() and ":" in real.name else None
    return driver, pci


def _address(msg: Any, ifname: str) -> LinuxAddress:
    local = msg.get("IFA_LOCAL") or msg.get("IFA_ADDRESS")
    iface = ipaddress.ip_interface(f"{local}/{msg['prefixlen']}")
    flags = msg.get("IFA_FLAGS")
    if flags is None:
        flags = msg["flags"]
    cache = msg.get("IFA_CACHEINFO") or {}
    label = msg.get("IFA_LABEL")
    bcast = msg.get("IFA_BROADCAST")
    return LinuxAddress(
        address=iface,
        scope=msg["scope"],
        flags=flags & CONFIG_ADDR_FLAGS,
        label=label if label and label != ifname else None,
        broadcast=ipaddress.IPv4Address(bcast) if bcast else None,
        valid_lft=cache.get("ifa_valid", FOREVER),
        preferred_lft=cache.get("ifa_preferred", FOREVER),
    )


def _route(msg: Any) -> LinuxRoute | None:
    if msg.get("RTA_MULTIPATH") is not None:
        return None  # multipath routes are not taken over (documented in docs/manager.md)
    fam: Literal[4, 6] = 4 if msg["family"] == socket.AF_INET else 6
    dst = msg.get("RTA_DST")
    if dst is None:  # default route: 0.0.0.0/0 or ::/0
        dst = str(ipaddress.ip_network((0, 0)).network_address) if fam == 4 else "::"
    gw = msg.get("RTA_GATEWAY")
    src = msg.get("RTA_PREFSRC")
    return LinuxRoute(
        family=fam,
        dst=ipaddress.ip_network(f"{dst}/{msg['dst_len']}"),
        gateway=ipaddress.ip_address(gw) if gw else None,
        table=msg.get("RTA_TABLE") or msg["table"],
        metric=msg.get("RTA_PRIORITY"),
        proto=msg["proto"],
        scope=msg["scope"],
        type=msg["type"],
        prefsrc=ipaddress.ip_address(src) if src else None,
        onlink=bool(msg["flags"] & RTNH_F_ONLINK),
    )


def discover(name: str, ns: str | None = None, sysfs: Path = Path("/sys")) -> LinuxInterfaceState:
    """Read the uplink's configuration. Raises DiscoveryError if it does not exist."""
    if ns is not None and not netns_exists(ns):
        raise DiscoveryError(f"network namespace {ns!r} does not exist")
    with iproute(ns) as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            where = f" in netns {ns}" if ns else ""
            raise DiscoveryError(f"uplink interface {name!r} not found{where}")
        idx = found[0]
        link = ipr.get_links(idx)[0]
        addrs = [_address(m, name) for m in ipr.get_addr(index=idx)]
        routes: list[LinuxRoute] = []
        for fam in (socket.AF_INET, socket.AF_INET6):
            for m in ipr.route("dump", family=fam):
                if m.get("RTA_OIF") == idx:
                    r = _route(m)
                    if r is not None:
                        routes.append(r)
    info = link.get("IFLA_LINKINFO")
    kind = info.get("IFLA_INFO_KIND") if info else None
    driver, pci = _sysfs_device(name, sysfs) if ns is None else (None, None)
    routes.sort(key=LinuxRoute.sort_key)
    return LinuxInterfaceState(
        name=name,
        ifindex=idx,
        mtu=link.get("IFLA_MTU"),
        mac=link.get("IFLA_ADDRESS"),
        is_up=bool(link["flags"] & IFF_UP),
        promisc=bool(link["flags"] & IFF_PROMISC),
        addresses=tuple(addrs),
        routes=tuple(routes),
        kind=kind,
        driver=driver or kind,
        pci_id=pci,
        num_rx_queues=link.get("IFLA_NUM_RX_QUEUES") or 1,
        num_tx_queues=link.get("IFLA_NUM_TX_QUEUES") or 1,
        netns=ns,
    )


def move_link(name: str, src_ns: str | None, dst_ns: str | None) -> int:
    """Move a link between namespaces by name; returns its ifindex in the destination."""
    with iproute(src_ns) as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            raise ManagerError(f"cannot move {name!r}: not in netns {src_ns or '(own)'}")
        target: str = SELF_NETNS if dst_ns is None else dst_ns
        ipr.link("set", index=found[0], net_ns_fd=target)
    idx = link_index(name, dst_ns)
    if idx is None:
        raise ManagerError(f"{name!r} did not appear in netns {dst_ns or '(own)'}")
    return idx


def set_link(
    idx: int,
    ns: str | None = None,
    *,
    mtu: int | None = None,
    mac: str | None = None,
    up: bool | None = None,
    promisc: bool | None = None,
    name: str | None = None,
) -> None:
    with iproute(ns) as ipr:
        if name is not None:
            ipr.link("set", index=idx, state="down")
            ipr.link("set", index=idx, ifname=name)
        if mtu is not None:
            ipr.link("set", index=idx, mtu=mtu)
        if mac is not None:
            ipr.link("set", index=idx, address=mac)
        if promisc is not None:
            ipr.link("set", index=idx, flags=IFF_PROMISC if promisc else 0, change=IFF_PROMISC)
        if up is not None:
            ipr.link("set", index=idx, state="up" if up else "down")


def flush_addresses(idx: int, ns: str | None = None) -> None:
    with iproute(ns) as ipr:
        for m in ipr.get_addr(index=idx):
            local = m.get("IFA_LOCAL") or m.get("IFA_ADDRESS")
            with contextlib.suppress(NetlinkError):
                ipr.addr("del", index=idx, address=local, prefixlen=m["prefixlen"])


def add_address(idx: int, a: LinuxAddress, ns: str | None = None, ifname: str = "") -> None:
    """Add one address; an address already there (the kernel's link-local) is fine."""
    kw: dict[str, Any] = {
        "index": idx,
        "address": str(a.address.ip),
        "prefixlen": a.address.network.prefixlen,
        "scope": a.scope,
    }
    if a.flags:
        kw["IFA_FLAGS"] = a.flags
    if a.broadcast is not None:
        kw["broadcast"] = str(a.broadcast)
    if a.label is not None:
        kw["label"] = a.label
    if a.valid_lft != FOREVER or a.preferred_lft != FOREVER:
        kw["IFA_CACHEINFO"] = {
            "ifa_valid": a.valid_lft,
            "ifa_preferred": a.preferred_lft,
            "cstamp": 0,
            "tstamp": 0,
        }
    with iproute(ns) as ipr:
        try:
            ipr.addr("add", **kw)
        except NetlinkError as e:
            if e.code != errno.EEXIST:
                raise ManagerError(f"cannot add {a.address} to {ifname or idx}: {e}") from e


def add_route(idx: int, r: LinuxRoute, ns: str | None = None) -> None:
    """Add one route through link ``idx``; one already there is fine."""
    kw: dict[str, Any] = {
        "dst": str(r.dst.network_address),
        "dst_len": r.dst.prefixlen,
        "oif": idx,
        "table": r.table,
        "proto": r.proto,
        "scope": r.scope,
        "type": r.type,
        "family": socket.AF_INET if r.family == 4 else socket.AF_INET6,
    }
    if r.gateway is not None:
        kw["gateway"] = str(r.gateway)
    if r.metric is not None:
        kw["priority"] = r.metric
    if r.prefsrc is not None:
        kw["prefsrc"] = str(r.prefsrc)
    if r.onlink:
        kw["flags"] = RTNH_F_ONLINK
    with iproute(ns) as ipr:
        try:
            ipr.route("add", **kw)
        except NetlinkError as e:
            if e.code != errno.EEXIST:
                raise ManagerError(f"cannot add route {r.dst} via {r.gateway}: {e}") from e


def delete_link(idx: int, ns: str | None = None) -> None:
    with iproute(ns) as ipr:
        ipr.link("del", index=idx)


def link_kind(idx: int, ns: str | None = None) -> str | None:
    with iproute(ns) as ipr:
        link = ipr.get_links(idx)[0]
    info = link.get("IFLA_LINKINFO")
    kind: str | None = info.get("IFLA_INFO_KIND") if info else None
    return kind
