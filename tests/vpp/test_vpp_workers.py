"""Both plugins in a VPP with a worker thread: one core worker (session table, epoch reader
slot) per VPP thread; flows are owned by the worker threads, and packets a thread receives
for a flow it does not own are handed to the owner (calico-dnat-ip4-handoff)."""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import rdpcap

from pycontrol.vpp.instance import Vpp
from pycontrol.vpp.pg import PacketRun, PgLink
from pycontrol.vppapi.plugins import PROTO_TCP, PROTO_UDP, Backend, DnatApi, Translation

from .conftest import assert_checksums, ip4, running_vpp

pytestmark = pytest.mark.needs_vpp


@pytest.fixture(scope="module")
def vpp2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vpp]:
    with running_vpp(tmp_path_factory.mktemp("vpp-workers"), workers=1) as v:
        yield v


def _client_and_backend_links(
    v: Vpp, vip: str, port: int, proto: int, backend_port: int
) -> tuple[PgLink, PgLink]:
    """pg0 (clients, 10.0.0.0/24) and pg1 (the backend 10.1.0.10), both with calico_dnat,
    and one translation vip:port -> 10.1.0.10:backend_port."""
    pg0 = PgLink(v, 0).create(["10.0.0.1/24"])
    pg1 = PgLink(v, 1).create(["10.1.0.1/24"])
    pg1.neighbor("10.1.0.10", "02:fe:00:00:01:0a")
    c = v.client("calico_dnat")
    for link in (pg0, pg1):
        c.call("calico_dnat_interface_enable_disable", sw_if_index=link.sw_if_index, is_enable=True)
    DnatApi(c).translations_update(
        [Translation(ip4(vip), port, proto, (Backend(ip4("10.1.0.10"), backend_port),))]
    )
    return pg0, pg1


def test_each_thread_is_a_core_worker_and_translates(vpp2: Vpp) -> None:
    pg0, pg1 = _client_and_backend_links(vpp2, "10.96.0.10", 80, PROTO_TCP, 8080)
    syn = (
        Ether(src="02:fe:00:00:00:02", dst=pg0.mac)
        / IP(src="10.0.0.2", dst="10.96.0.10")
        / TCP(sport=5555, dport=80, flags="S")
    )
    (out,) = PacketRun(vpp2, [pg0, pg1]).run({pg0: [syn]})["pg1"]
    assert (out[IP].dst, out[TCP].dport) == ("10.1.0.10", 8080)
    assert_checksums(out)
    sessions = vpp2.cli("show calico dnat sessions")
    assert "thread 0:" in sessions and "thread 1:" in sessions
    assert "10.0.0.2:5555 -> 10.96.0.10:80" in sessions


_VETH_SEQ = iter(range(1000))


@pytest.fixture
def veth() -> Iterator[tuple[str, str]]:
    """A veth pair in this namespace: VPP takes the first end (af_packet), the test sends
    and receives raw frames on the second."""
    from pyroute2 import IPRoute  # noqa: PLC0415

    tag = f"cdh{os.getpid() % 10000}{next(_VETH_SEQ)}"
    a, b = f"{tag}a", f"{tag}b"
    with IPRoute() as ipr:
        ipr.link("add", ifname=a, kind="veth", peer=b)
        try:
            for n in (a, b):
                (idx,) = ipr.link_lookup(ifname=n)
                ipr.link("set", index=idx, state="up")
            yield a, b
        finally:
            ipr.link("del", ifname=a)


@pytest.fixture(scope="module")
def vpp_main_rx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vpp]:
    with running_vpp(
        tmp_path_factory.mktemp("vpp-handoff"), workers=1, extra_plugins=("af_packet_plugin.so",)
    ) as v:
        yield v


def _errors(vpp: Vpp, node: str, reason: str) -> int:
    total = 0
    for line in vpp.cli("show errors").splitlines():
        parts = line.split()
        if node in parts and reason in line and parts[0].isdigit():
            total += int(parts[0])
    return total


def _receive_tcp(sock: socket.socket, n: int, timeout: float) -> list[Packet]:
    got: list[Packet] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            frame = sock.recv(2048)
        except TimeoutError:
            break
        p = Ether(frame)
        if p.haslayer(TCP):
            got.append(p)
    return got


@dataclass(frozen=True)
class Family:
    af: int
    vpp_addr: str  # on the client side, with its prefix length
    client: str
    vip: str
    pg_net: str  # the backend side, with its prefix length
    backend: str
    pg_index: int  # each family its own pg interface in the shared VPP

    def ip(self, src: str, dst: str) -> Packet:
        return IP(src=src, dst=dst) if self.af == 4 else IPv6(src=src, dst=dst)

    def addr(self, a: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(a)


FAMILIES = [
    Family(4, "10.0.0.1/24", "10.0.0.2", "10.96.0.10", "10.1.0.1/24", "10.1.0.10", 1),
    Family(6, "fd00::1/64", "fd00::2", "fd96::10", "fd01::1/64", "fd01::10", 2),
]


@pytest.mark.parametrize("fam", FAMILIES, ids=["ipv4", "ipv6"])
def test_flows_received_on_the_main_thread_are_handed_to_their_owner(
    vpp_main_rx: Vpp, veth: tuple[str, str], fam: Family
) -> None:
    """With a worker thread the main thread owns no flow: the client side's af_packet
    queue is polled by the main thread, every packet of it goes through the handoff node
    to the worker (the flows' owner), is translated there, and the worker's replies from
    the backend side (pg, polled by the worker) find their sessions."""
    v = vpp_main_rx
    L3 = IP if fam.af == 4 else IPv6
    node = f"calico-dnat-ip{fam.af}"
    translated_before = _errors(v, f"{node}-in", "forward packets translated")
    handed_before = _errors(v, f"{node}-handoff", "handed to another thread")
    vpp_end, test_end = veth
    v.cli(f"create host-interface name {vpp_end}")
    host_if = f"host-{vpp_end}"
    v.cli(f"set interface state {host_if} up")
    v.cli(f"set interface ip address {host_if} {fam.vpp_addr}")
    v.cli(f"set interface rx-placement {host_if} queue 0 main")
    assert "vpp_main" in v.cli("show interface rx-placement")
    vpp_mac = v.cli(f"show hardware-interfaces {host_if}").split("Ethernet address ")[1].split()[0]
    test_mac = Path(f"/sys/class/net/{test_end}/address").read_text().strip()
    v.cli(f"set ip neighbor {host_if} {fam.client} {test_mac}")
    pg1 = PgLink(v, fam.pg_index).create([fam.pg_net])
    pg1.neighbor(fam.backend, "02:fe:00:00:01:0a")
    c = v.client("calico_dnat")
    sw = int(v.cli(f"show interface {host_if}").split(host_if)[1].split()[0])
    for idx in (sw, pg1.sw_if_index):
        c.call("calico_dnat_interface_enable_disable", sw_if_index=idx, is_enable=True)
    DnatApi(c).translations_update(
        [Translation(fam.addr(fam.vip), 80, PROTO_TCP, (Backend(fam.addr(fam.backend), 8080),))]
    )
    ports = list(range(41000, 41016))
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003)) as sock:
        sock.bind((test_end, 0))
        out_pcap = v.workdir / f"handoff-{pg1.name}.pcap"
        v.cli(f"packet-generator capture {pg1.name} pcap {out_pcap}")
        for p in ports:
            syn = (
                Ether(src=test_mac, dst=vpp_mac)
                / fam.ip(fam.client, fam.vip)
                / TCP(sport=p, dport=80, flags="S")
            )
            sock.send(bytes(syn))
        deadline = time.monotonic() + 10
        while _errors(v, f"{node}-in", "forward packets translated") - translated_before < len(
            ports
        ):
            assert time.monotonic() < deadline, v.cli("show errors")
            time.sleep(0.05)
        v.cli(f"packet-generator capture {pg1.name} disable")
        out = [Ether(bytes(x)) for x in rdpcap(str(out_pcap)) if Ether(bytes(x)).haslayer(TCP)]
        assert sorted(int(p[TCP].sport) for p in out) == ports
        for p in out:
            assert (p[L3].dst, p[TCP].dport) == (fam.backend, 8080)
            assert_checksums(p)
        replies = [
            Ether(src="02:fe:00:00:01:0a", dst=pg1.mac)
            / fam.ip(fam.backend, str(p[L3].src))
            / TCP(sport=8080, dport=int(p[TCP].sport), flags="SA")
            for p in out
        ]
        PacketRun(v, [pg1]).run({pg1: replies})
        back = _receive_tcp(sock, len(ports), 10)
    assert sorted(int(p[TCP].dport) for p in back) == ports
    for p in back:
        assert (p[L3].src, p[TCP].sport, p[L3].dst) == (fam.vip, 80, fam.client)
        assert_checksums(p)
    handed = _errors(v, f"{node}-handoff", "handed to another thread") - handed_before
    assert handed >= len(ports)
    sessions = v.cli("show calico dnat sessions")
    assert "thread 0: 0 sessions" in sessions, sessions  # the main thread owns no flow


@pytest.fixture(scope="module")
def vpp_short_udp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vpp]:
    with running_vpp(
        tmp_path_factory.mktemp("vpp-expire"), workers=1, dnat_options="udp-timeout 1"
    ) as v:
        yield v


def test_a_thread_without_traffic_still_frees_its_expired_sessions(vpp_short_udp: Vpp) -> None:
    """calico-dnat-expire: the main thread's process interrupts every thread once a second,
    and the worker's sweep runs although no packet comes."""
    v = vpp_short_udp
    pg0, pg1 = _client_and_backend_links(v, "10.96.0.53", 53, PROTO_UDP, 5353)
    queries = [
        Ether(src="02:fe:00:00:00:02", dst=pg0.mac)
        / IP(src="10.0.0.2", dst="10.96.0.53")
        / UDP(sport=30000 + i, dport=53)
        / b"query"
        for i in range(8)
    ]
    out = PacketRun(v, [pg0, pg1]).run({pg0: queries})["pg1"]
    assert len(out) == len(queries)
    assert "thread 1: 8 sessions" in v.cli("show calico dnat sessions")
    deadline = time.monotonic() + 10
    while "thread 1: 0 sessions" not in v.cli("show calico dnat sessions"):
        assert time.monotonic() < deadline, v.cli("show calico dnat sessions")
        time.sleep(0.2)
    assert _errors(v, "calico-dnat-expire", "expired sessions freed") == 8


def test_bad_timeouts_are_refused_at_startup(tmp_path: Path) -> None:
    for bad in ("udp-timeout 0", "tcp-established-timeout 99999999"):
        with (
            pytest.raises(RuntimeError, match="timeouts are 1"),
            running_vpp(tmp_path / bad.split()[0], dnat_options=bad),
        ):
            pass
