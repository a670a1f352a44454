"""The dataplane interface: what a control-plane component may ask of any dataplane.

Grown as components need it; the manager needs interfaces, addresses, routes and a tap.
"""

from __future__ import annotations

from typing import Protocol

from pycontrol.dataplane.types import IpAddress, IpInterface, QueueSpec, Route, RxMode, TapSpec


class DataplaneError(Exception):
    """A dataplane call failed (the message names the call and the reason)."""


class Dataplane(Protocol):
    def close(self) -> None: ...

    # uplink interfaces, one per driver
    def create_af_packet(self, host_if_name: str, mac: str, queues: QueueSpec) -> int: ...

    def create_af_xdp(self, host_if_name: str, name: str, netns: str, queues: QueueSpec) -> int: ...

    def create_virtio(self, pci_id: str, mac: str, queues: QueueSpec) -> int: ...

    def interface_index(self, name: str) -> int:
        """sw_if_index of an interface VPP created itself (DPDK); DataplaneError if none."""
        ...

    # interface attributes
    def set_interface_up(self, sw_if_index: int, up: bool) -> None: ...

    def set_interface_mtu(self, sw_if_index: int, mtu: int) -> None: ...

    def set_interface_mac(self, sw_if_index: int, mac: str) -> None: ...

    def set_rx_mode(self, sw_if_index: int, mode: RxMode) -> None: ...

    def enable_ip6(self, sw_if_index: int) -> None: ...

    def add_address(self, sw_if_index: int, address: IpInterface) -> None: ...

    def add_route(self, route: Route) -> None: ...

    # the host's way back in
    def create_tap(self, spec: TapSpec) -> int: ...

    def set_unnumbered(self, sw_if_index: int, unnumbered_sw_if_index: int) -> None:
        """``unnumbered_sw_if_index`` borrows the addresses of ``sw_if_index``."""
        ...

    def enable_proxy_arp(self, sw_if_index: int) -> None: ...

    def punt_redirect(self, rx_sw_if_index: int, tx_sw_if_index: int, nh: IpAddress) -> None:
        """Packets for the dataplane's own addresses it does not handle go to the host."""
        ...
