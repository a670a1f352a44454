"""The dataplane interface over VPP's binary API (``vpp_papi``, socket transport).

Every call checks ``retval`` and raises DataplaneError naming the message. Message and field
names are those of VPP's core .api files (interface, ip, tap, af_packet, af_xdp, virtio).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pycontrol.dataplane.interface import DataplaneError
from pycontrol.dataplane.types import IpAddress, IpInterface, QueueSpec, Route, RxMode, TapSpec

IF_STATUS_API_FLAG_ADMIN_UP = 1
AF_PACKET_API_MODE_ETHERNET = 1
FIB_API_PATH_NH_PROTO_IP4 = 0
FIB_API_PATH_NH_PROTO_IP6 = 1
DEFAULT_API_DIRS = (Path("/usr/share/vpp/api"), Path("/usr/local/share/vpp/api"))


def _pci(pci_id: str) -> dict[str, int]:
    dom, bus, rest = pci_id.split(":")
    slot, fn = rest.split(".")
    return {"domain": int(dom, 16), "bus": int(bus, 16), "slot": int(slot, 16), "function": int(fn)}


_NO_LABEL: dict[str, int] = {"is_uniform": 0, "label": 0, "ttl": 0, "exp": 0}


class VppDataplane:
    """A connected VPP. Build it with :func:`connect`."""

    def __init__(self, client: Any) -> None:
        self._vpp = client

    def close(self) -> None:
        self._vpp.disconnect()

    def _call(self, msg: str, **kw: Any) -> Any:
        try:
            reply = getattr(self._vpp.api, msg)(**kw)
        except Exception as e:  # vpp_papi raises many types: IO, value, runtime
            raise DataplaneError(f"{msg}: {e}") from e
        rv = getattr(reply, "retval", 0)
        if rv != 0:
            raise DataplaneError(f"{msg}: retval {rv}")
        return reply

    def create_af_packet(self, host_if_name: str, mac: str, queues: QueueSpec) -> int:
        r = self._call(
            "af_packet_create_v3",
            mode=AF_PACKET_API_MODE_ETHERNET,
            hw_addr=mac,
            use_random_hw_addr=False,
            host_if_name=host_if_name,
            rx_frame_size=0,
            tx_frame_size=0,
            rx_frames_per_block=0,
            tx_frames_per_block=0,
            flags=0,
            num_rx_queues=queues.rx_queues,
            num_tx_queues=queues.tx_queues,
        )
        return int(r.sw_if_index)

    def create_af_xdp(self, host_if_name: str, name: str, netns: str, queues: QueueSpec) -> int:
        r = self._call(
            "af_xdp_create_v3",
            host_if=host_if_name,
            name=name,
            rxq_num=queues.rx_queues,
            rxq_size=queues.rx_size,
            txq_size=queues.tx_size,
            mode=0,
            flags=0,
            prog="",
            netns=netns,
        )
        return int(r.sw_if_index)

    def create_virtio(self, pci_id: str, mac: str, queues: QueueSpec) -> int:
        r = self._call(
            "virtio_pci_create_v2",
            pci_addr=_pci(pci_id),
            use_random_mac=False,
            mac_address=mac,
            virtio_flags=0,
            features=0,
        )
        return int(r.sw_if_index)

    def interface_index(self, name: str) -> int:
        try:
            found = self._vpp.api.sw_interface_dump(
                sw_if_index=0xFFFFFFFF, name_filter_valid=True, name_filter=name
            )
        except Exception as e:
            raise DataplaneError(f"sw_interface_dump: {e}") from e
        for d in found:
            if d.interface_name == name:
                return int(d.sw_if_index)
        raise DataplaneError(f"VPP has no interface named {name!r}")

    def set_interface_up(self, sw_if_index: int, up: bool) -> None:
        self._call(
            "sw_interface_set_flags",
            sw_if_index=sw_if_index,
            flags=IF_STATUS_API_FLAG_ADMIN_UP if up else 0,
        )

    def set_interface_mtu(self, sw_if_index: int, mtu: int) -> None:
        self._call("hw_interface_set_mtu", sw_if_index=sw_if_index, mtu=mtu)

    def set_interface_mac(self, sw_if_index: int, mac: str) -> None:
        self._call("sw_interface_set_mac_address", sw_if_index=sw_if_index, mac_address=mac)

    def set_rx_mode(self, sw_if_index: int, mode: RxMode) -> None:
        self._call(
            "sw_interface_set_rx_mode",
            sw_if_index=sw_if_index,
            queue_id_valid=False,
            queue_id=0,
            mode=int(mode),
        )

    def enable_ip6(self, sw_if_index: int) -> None:
        self._call("sw_interface_ip6_enable_disable", sw_if_index=sw_if_index, enable=True)

    def add_address(self, sw_if_index: int, address: IpInterface) -> None:
        self._call(
            "sw_interface_add_del_address",
            sw_if_index=sw_if_index,
            is_add=True,
            del_all=False,
            prefix=address,
        )

    def add_route(self, route: Route) -> None:
        v4 = route.dst.version == 4
        path: dict[str, Any] = {
            "sw_if_index": route.sw_if_index,
            "table_id": route.table,
            "weight": 1,
            "preference": route.preference,
            "type": 0,
            "flags": 0,
            "proto": FIB_API_PATH_NH_PROTO_IP4 if v4 else FIB_API_PATH_NH_PROTO_IP6,
            # vpp_papi packs fixed-size arrays only when given whole
            "n_labels": 0,
            "label_stack": [_NO_LABEL] * 16,
        }
        if route.gateway is not None:
            # fib_path_nh.address is an address_union: name the member
            path["nh"] = {"address": {"ip4" if v4 else "ip6": route.gateway}}
        self._call(
            "ip_route_add_del",
            is_add=True,
            is_multipath=False,
            route={"table_id": route.table, "prefix": route.dst, "n_paths": 1, "paths": [path]},
        )

    def create_tap(self, spec: TapSpec) -> int:
        q = spec.queues
        r = self._call(
            "tap_create_v3",
            id=0xFFFFFFFF,
            use_random_mac=True,
            num_rx_queues=q.rx_queues,
            num_tx_queues=q.tx_queues,
            tx_ring_sz=q.tx_size,
            rx_ring_sz=q.rx_size,
            host_mtu_set=True,
            host_mtu_size=spec.host_mtu,
            host_mac_addr_set=True,
            host_mac_addr=spec.host_mac,
            host_if_name_set=True,
            host_if_name=spec.host_if_name,
            host_namespace_set=True,
            host_namespace=spec.host_netns,
            tap_flags=0,
            tag=spec.tag,
        )
        return int(r.sw_if_index)

    def set_unnumbered(self, sw_if_index: int, unnumbered_sw_if_index: int) -> None:
        self._call(
            "sw_interface_set_unnumbered",
            sw_if_index=sw_if_index,
            unnumbered_sw_if_index=unnumbered_sw_if_index,
            is_add=True,
        )

    def enable_proxy_arp(self, sw_if_index: int) -> None:
        self._call("proxy_arp_intfc_enable_disable", sw_if_index=sw_if_index, enable=True)

    def punt_redirect(self, rx_sw_if_index: int, tx_sw_if_index: int, nh: IpAddress) -> None:
        self._call(
            "ip_punt_redirect",
            punt={"rx_sw_if_index": rx_sw_if_index, "tx_sw_if_index": tx_sw_if_index, "nh": nh},
            is_add=True,
        )


def find_api_dir(explicit: Path | None = None) -> Path:
    """Where VPP's ``*.api.json`` files are (``--vpp-api-dir`` or VPP's install locations)."""
    for d in (explicit,) if explicit is not None else DEFAULT_API_DIRS:
        if d.is_dir() and any(d.rglob("*.api.json")):
            return d
    where = str(explicit) if explicit is not None else " or ".join(map(str, DEFAULT_API_DIRS))
    raise DataplaneError(
        f"no VPP API definitions (*.api.json) found in {where}; install VPP or pass --vpp-api-dir"
    )


def _client(apidir: Path, socket_path: str) -> Any:
    # deferred: importing vpp_papi costs ~100 ms, and only this path needs it
    from vpp_papi import VPPApiClient  # type: ignore[import-untyped]  # noqa: PLC0415

    return VPPApiClient(apidir=[str(apidir)], server_address=socket_path, read_timeout=5)


def preflight(api_dir: Path | None = None) -> Path:
    """Load VPP's API definitions without connecting: a broken install fails here, early."""
    apidir = find_api_dir(api_dir)
    try:
        _client(apidir, "/nonexistent")
    except Exception as e:
        raise DataplaneError(f"VPP API definitions in {apidir} do not load: {e}") from e
    return apidir


def connect(socket_path: str, api_dir: Path | None = None, name: str = "pycontrol") -> VppDataplane:
    """One connection attempt to VPP's API socket; DataplaneError if it fails."""
    apidir = find_api_dir(api_dir)
    try:
        client = _client(apidir, socket_path)
        client.connect(name)
    except Exception as e:
        raise DataplaneError(f"connect to {socket_path}: {e}") from e
    return VppDataplane(client)
