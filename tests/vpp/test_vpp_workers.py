"""Both plugins in a VPP with a worker thread: one core worker (session table, epoch reader
slot) per VPP thread; flows are owned by the worker threads, and packets a thread receives
for a flow it does not own are handed to the owner (calico-dnat-ip4-handoff)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import rdpcap

from pycontrol.vpp.instance import Vpp
from pycontrol.vpp.pg import PacketRun, PgLink
from pycontrol.vppapi.plugins import PROTO_TCP, Backend, DnatApi, Translation

from .conftest import assert_checksums, ip4, running_vpp

pytestmark = pytest.mark.needs_vpp


@pytest.fixture(scope="module")
def vpp2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vpp]:
    with running_vpp(tmp_path_factory.mktemp("vpp-workers"), workers=1) as v:
        yield v


def test_each_thread_is_a_core_worker_and_translates(vpp2: Vpp) -> None:
    pg0 = PgLink(vpp2, 0).create(["10.0.0.1/24"])
    pg1 = PgLink(vpp2, 1).create(["10.1.0.1/24"])
    pg1.neighbor("10.1.0.10", "02:fe:00:00:01:0a")
    c = vpp2.client("calico_dnat")
    for link in (pg0, pg1):
        c.call("calico_dnat_interface_enable_disable", sw_if_index=link.sw_if_index, is_enable=True)
    DnatApi(c).translations_update(
        [Translation(ip4("10.96.0.10"), 80, PROTO_TCP, (Backend(ip4("10.1.0.10"), 8080),))]
    )
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


@pytest.fixture
def veth() -> Iterator[tuple[str, str]]:
    """A veth pair in this namespace: VPP takes the first end (af_packet), the test sends
    and receives raw frames on the second."""
    from pyroute2 import IPRoute  # noqa: PLC0415

    a, b = f"cdh{os.getpid() % 100000}a", f"cdh{os.getpid() % 100000}b"
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


def test_flows_received_on_the_main_thread_are_handed_to_their_owner(
    vpp_main_rx: Vpp, veth: tuple[str, str]
) -> None:
    """With a worker thread the main thread owns no flow: the client side's af_packet
    queue is polled by the main thread, every packet of it goes through the handoff node
    to the worker (the flows' owner), is translated there, and the worker's replies from
    the backend side (pg, polled by the worker) find their sessions."""
    v = vpp_main_rx
    vpp_end, test_end = veth
    v.cli(f"create host-interface name {vpp_end}")
    host_if = f"host-{vpp_end}"
    v.cli(f"set interface state {host_if} up")
    v.cli(f"set interface ip address {host_if} 10.0.0.1/24")
    v.cli(f"set interface rx-placement {host_if} queue 0 main")
    assert "vpp_main" in v.cli("show interface rx-placement")
    vpp_mac = v.cli(f"show hardware-interfaces {host_if}").split("Ethernet address ")[1].split()[0]
    test_mac = Path(f"/sys/class/net/{test_end}/address").read_text().strip()
    v.cli(f"set ip neighbor {host_if} 10.0.0.2 {test_mac}")
    pg1 = PgLink(v, 1).create(["10.1.0.1/24"])
    pg1.neighbor("10.1.0.10", "02:fe:00:00:01:0a")
    c = v.client("calico_dnat")
    sw = int(v.cli(f"show interface {host_if}").split(host_if)[1].split()[0])
    for idx in (sw, pg1.sw_if_index):
        c.call("calico_dnat_interface_enable_disable", sw_if_index=idx, is_enable=True)
    DnatApi(c).translations_update(
        [Translation(ip4("10.96.0.10"), 80, PROTO_TCP, (Backend(ip4("10.1.0.10"), 8080),))]
    )
    ports = list(range(41000, 41016))
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003)) as sock:
        sock.bind((test_end, 0))
        out_pcap = v.workdir / "handoff-pg1.pcap"
        v.cli(f"packet-generator capture {pg1.name} pcap {out_pcap}")
        for p in ports:
            syn = (
                Ether(src=test_mac, dst=vpp_mac)
                / IP(src="10.0.0.2", dst="10.96.0.10")
                / TCP(sport=p, dport=80, flags="S")
            )
            sock.send(bytes(syn))
        deadline = time.monotonic() + 10
        while _errors(v, "calico-dnat-ip4-in", "forward packets translated") < len(ports):
            assert time.monotonic() < deadline, v.cli("show errors")
            time.sleep(0.05)
        v.cli(f"packet-generator capture {pg1.name} disable")
        out = [Ether(bytes(x)) for x in rdpcap(str(out_pcap)) if Ether(bytes(x)).haslayer(TCP)]
        assert sorted(int(p[TCP].sport) for p in out) == ports
        for p in out:
            assert (p[IP].dst, p[TCP].dport) == ("10.1.0.10", 8080)
            assert_checksums(p)
        replies = [
            Ether(src="02:fe:00:00:01:0a", dst=pg1.mac)
            / IP(src="10.1.0.10", dst=str(p[IP].src))
            / TCP(sport=8080, dport=int(p[TCP].sport), flags="SA")
            for p in out
        ]
        PacketRun(v, [pg1]).run({pg1: replies})
        back = _receive_tcp(sock, len(ports), 10)
    assert sorted(int(p[TCP].dport) for p in back) == ports
    for p in back:
        assert (p[IP].src, p[TCP].sport, p[IP].dst) == ("10.96.0.10", 80, "10.0.0.2")
        assert_checksums(p)
    assert _errors(v, "calico-dnat-ip4-handoff", "handed to another thread") >= len(ports)
    sessions = v.cli("show calico dnat sessions")
    assert "thread 0: 0 sessions" in sessions, sessions  # the main thread owns no flow
    assert f"thread 1: {len(ports)} sessions" in sessions, sessions
