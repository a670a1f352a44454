"""Packet-generator links and runs inside a :class:`~pycontrol.vpp.instance.Vpp`: pg
interfaces with addresses and static neighbours, streams replayed from pcap files, every
pg interface's output captured and read back with scapy."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from scapy.layers.inet6 import (
    ICMPv6MLReport,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_RS,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import rdpcap, wrpcap

from pycontrol.vpp.instance import Vpp


@dataclass(eq=False)
class PgLink:
    """A packet-generator interface with an address and static neighbours."""

    vpp: Vpp
    index: int
    mac: str = ""

    @property
    def name(self) -> str:
        return f"pg{self.index}"

    @property
    def sw_if_index(self) -> int:
        return self.vpp.sw_if_index(self.name)

    def create(self, addrs: Sequence[str]) -> PgLink:
        self.vpp.cli(f"create packet-generator interface {self.name}")
        for a in addrs:
            self.vpp.cli(f"set interface ip address {self.name} {a}")
        self.vpp.cli(f"set interface state {self.name} up")
        out = self.vpp.cli(f"show hardware-interfaces {self.name}")
        for tok in out.split():
            if tok.count(":") == 5:
                self.mac = tok
                break
        return self

    def neighbor(self, ip: str, mac: str) -> None:
        self.vpp.cli(f"set ip neighbor {self.name} {ip} {mac}")


class PacketRun:
    """Send streams on pg interfaces, capture every pg interface's output, run to
    completion and return the captured packets per interface."""

    def __init__(self, vpp: Vpp, links: Sequence[PgLink]) -> None:
        self.vpp = vpp
        self.links = list(links)
        self._n = 0

    def run(
        self,
        streams: dict[PgLink, Sequence[Packet]],
        workers: dict[PgLink, int] | None = None,
    ) -> dict[str, list[Packet]]:
        """`workers` places a link's stream on that worker thread (0 = the first worker)."""
        wd = self.vpp.workdir
        self._n += 1
        outs = {}
        for link in self.links:
            out = wd / f"out-{link.name}-{self._n}.pcap"
            outs[link.name] = out
            self.vpp.cli(f"packet-generator capture {link.name} pcap {out}")
        names = []
        for link, pkts in streams.items():
            src = wd / f"in-{link.name}-{self._n}.pcap"
            wrpcap(str(src), list(pkts))
            name = f"s{self._n}-{link.name}"
            on = f" worker {workers[link]}" if workers and link in workers else ""
            self.vpp.cli(f"packet-generator new pcap {src} source {link.name} name {name}{on}")
            names.append(name)
        self.vpp.cli("packet-generator enable")
        deadline = time.monotonic() + 30
        while "Yes" in self.vpp.cli("show packet-generator"):
            if time.monotonic() > deadline:
                raise RuntimeError("packet generator did not stop")
            time.sleep(0.02)
        for name in names:
            self.vpp.cli(f"packet-generator delete {name}")
        got: dict[str, list[Packet]] = {}
        for link in self.links:
            self.vpp.cli(f"packet-generator capture {link.name} disable")
            p = outs[link.name]
            pkts = [Ether(bytes(x)) for x in rdpcap(str(p))] if p.exists() else []
            got[link.name] = [x for x in pkts if not _is_noise(x)]
        return got


_NOISE = (
    ICMPv6ND_RS,
    ICMPv6ND_RA,
    ICMPv6ND_NS,
    ICMPv6ND_NA,
    ICMPv6MLReport,
    ICMPv6MLReport2,
)


def _is_noise(p: Packet) -> bool:
    """IPv6 neighbour discovery and MLD chatter VPP emits on its own."""
    return any(p.haslayer(layer) for layer in _NOISE)
