"""Fixtures of the needs_vpp tests: a VPP with both calico plugins (one per module) and
packet-generator links. Everything skips cleanly when the environment names no VPP with
the plugins (see vpp_instance.py for the variables)."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet

from pycontrol.vpp.instance import Vpp, VppLocation, VppUnavailableError


def vpp_location() -> VppLocation:
    try:
        return VppLocation.from_env()
    except VppUnavailableError as e:
        pytest.skip(str(e))


@contextlib.contextmanager
def running_vpp(workdir: Path, **options: Any) -> Iterator[Vpp]:
    """A started VPP (Vpp's options: workers, extra_plugins, ...), checked alive at the
    end and always stopped."""
    pytest.importorskip("vpp_papi", reason="vpp_papi (VPP's Python API client) not installed")
    v = Vpp(vpp_location(), workdir, **options)
    try:
        v.start()
        yield v
        assert v.alive(), f"VPP died during the tests:\n{v.log_tail()}"
    finally:
        v.stop()


@pytest.fixture(scope="module")
def vpp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vpp]:
    with running_vpp(tmp_path_factory.mktemp("vpp")) as v:
        yield v


def assert_checksums(p: Packet) -> None:
    """Every checksum of an output packet (IPv4 header, TCP/UDP/ICMP) is what scapy computes
    from scratch for the same bytes."""
    raw = p.copy()
    layers: list[type[Packet]] = [IP, TCP, UDP, ICMP]
    for layer in layers:
        if raw.haslayer(layer) and hasattr(raw[layer], "chksum"):
            del raw[layer].chksum
    if raw.haslayer(IPv6) and raw.haslayer(TCP):
        del raw[TCP].chksum
    if raw.haslayer(IPv6) and raw.haslayer(UDP):
        del raw[UDP].chksum
    fresh = raw.__class__(bytes(raw))
    for layer in layers:
        if p.haslayer(layer) and hasattr(p[layer], "chksum"):
            got, want = p[layer].chksum, fresh[layer].chksum
            if layer is UDP and got == 0 and p.haslayer(IP):
                continue  # no UDP checksum over IPv4 is valid
            assert got == want, f"{layer.__name__} checksum {got:#06x}, expected {want:#06x}"


def ip4(a: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(a)
