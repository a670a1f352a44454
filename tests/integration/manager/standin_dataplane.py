"""A stand-in for VPP's API side, used with ``standin_vpp.py`` when no VPP is present.

``connect`` really connects to the stand-in VPP's Unix socket (and fails like the real one
while the socket is missing or refuses). Every call is recorded, in order, as a JSON line in
``STANDIN_DP_LOG``, so tests can check the order of the API steps (admin-up before
addresses). ``create_tap`` creates a real Linux tap in the manager's network namespace with
the requested name, MAC and MTU, as VPP's tap_create_v3 does, so the manager's host-side
configuration of the tap runs for real. Unlike VPP's tap it outlives the stand-in VPP: the
manager's restore removes it, which is the path a persistent leftover tap takes too.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute

from pycontrol.dataplane.interface import DataplaneError
from pycontrol.dataplane.types import IpAddress, IpInterface, QueueSpec, Route, RxMode, TapSpec


class StandinDataplane:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._next = 1

    def _record(self, call: str, **kw: Any) -> int:
        idx = self._next
        self._next += 1
        path = os.environ.get("STANDIN_DP_LOG")
        if path:
            with open(path, "a") as f:
                f.write(json.dumps({"call": call, "ret": idx, **kw}, default=str) + "\n")
        return idx

    def close(self) -> None:
        self._record("close")
        self._sock.close()

    def create_af_packet(self, host_if_name: str, mac: str, queues: QueueSpec) -> int:
        return self._record("create_af_packet", host_if_name=host_if_name, mac=mac)

    def create_af_xdp(self, host_if_name: str, name: str, netns: str, queues: QueueSpec) -> int:
        return self._record("create_af_xdp", host_if_name=host_if_name)

    def create_virtio(self, pci_id: str, mac: str, queues: QueueSpec) -> int:
        return self._record("create_virtio", pci_id=pci_id)

    def interface_index(self, name: str) -> int:
        return self._record("interface_index", name=name)

    def set_interface_up(self, sw_if_index: int, up: bool) -> None:
        self._record("set_interface_up", sw_if_index=sw_if_index, up=up)

    def set_interface_mtu(self, sw_if_index: int, mtu: int) -> None:
        self._record("set_interface_mtu", sw_if_index=sw_if_index, mtu=mtu)

    def set_interface_mac(self, sw_if_index: int, mac: str) -> None:
        self._record("set_interface_mac", sw_if_index=sw_if_index, mac=mac)

    def set_rx_mode(self, sw_if_index: int, mode: RxMode) -> None:
        self._record("set_rx_mode", sw_if_index=sw_if_index, mode=int(mode))

    def enable_ip6(self, sw_if_index: int) -> None:
        self._record("enable_ip6", sw_if_index=sw_if_index)

    def add_address(self, sw_if_index: int, address: IpInterface) -> None:
        self._record("add_address", sw_if_index=sw_if_index, address=str(address))

    def add_route(self, route: Route) -> None:
        self._record(
            "add_route",
            sw_if_index=route.sw_if_index,
            dst=str(route.dst),
            gateway=str(route.gateway) if route.gateway else None,
        )

    def create_tap(self, spec: TapSpec) -> int:
        ns_path = Path(spec.host_netns)
        if os.stat(ns_path).st_ino != os.stat("/proc/self/ns/net").st_ino:
            raise DataplaneError("stand-in: tap host namespace is not the manager's")
        with IPRoute() as ipr:
            ipr.link("add", ifname=spec.host_if_name, kind="tuntap", mode="tap")
            idx = ipr.link_lookup(ifname=spec.host_if_name)[0]
            ipr.link("set", index=idx, address=spec.host_mac, mtu=spec.host_mtu)
        return self._record(
            "create_tap", host_if_name=spec.host_if_name, host_mac=spec.host_mac, mtu=spec.host_mtu
        )

    def set_unnumbered(self, sw_if_index: int, unnumbered_sw_if_index: int) -> None:
        self._record("set_unnumbered", sw_if_index=sw_if_index, unnumbered=unnumbered_sw_if_index)

    def enable_proxy_arp(self, sw_if_index: int) -> None:
        self._record("enable_proxy_arp", sw_if_index=sw_if_index)

    def punt_redirect(self, rx_sw_if_index: int, tx_sw_if_index: int, nh: IpAddress) -> None:
        self._record("punt_redirect", rx=rx_sw_if_index, tx=tx_sw_if_index, nh=str(nh))


def connect(sock_path: str, api_dir: Path | None) -> StandinDataplane:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sock_path)
    except OSError as e:
        s.close()
        raise DataplaneError(f"connect to {sock_path}: {e}") from e
    return StandinDataplane(s)
