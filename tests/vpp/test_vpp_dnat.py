"""calico_dnat_plugin.so inside a real VPP: programmed through the project's client over
VPP's API socket, fed with packet-generator streams, judged on the captured packets
(addresses, ports, every checksum)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from pycontrol.vpp.instance import Vpp
from pycontrol.vpp.pg import PacketRun, PgLink
from pycontrol.vppapi.client import ApiCallError
from pycontrol.vppapi.plugins import PROTO_TCP, PROTO_UDP, Backend, DnatApi, Translation

from .conftest import assert_checksums, ip4

pytestmark = pytest.mark.needs_vpp

CLIENT = "10.0.0.2"
CLIENT6 = "fd00::2"
BACKENDS = ("10.1.0.10", "10.1.0.11")
BACKEND6 = "fd01::10"
SNAT = "10.1.0.1"  # VPP's own address on the backend link: SNATed flows return to VPP
VIP = "10.96.0.10"
VIP_HAIRPIN = "10.96.0.20"
VIP6 = "fd96::10"
MAC_CLIENT = "02:fe:00:00:00:02"
MAC_BACKEND = {"10.1.0.10": "02:fe:00:00:01:0a", "10.1.0.11": "02:fe:00:00:01:0b"}
MAC_BACKEND6 = "02:fe:00:00:01:10"


@dataclass
class Net:
    vpp: Vpp
    client: PgLink  # pg0: the client side (uplink)
    pods: PgLink  # pg1: the backend pods
    run: PacketRun
    api: DnatApi


@pytest.fixture(scope="module")
def net(vpp: Vpp) -> Iterator[Net]:
    pg0 = PgLink(vpp, 0).create(["10.0.0.1/24", "fd00::1/64"])
    pg1 = PgLink(vpp, 1).create([f"{SNAT}/24", "fd01::1/64"])
    pg0.neighbor(CLIENT, MAC_CLIENT)
    pg0.neighbor(CLIENT6, MAC_CLIENT)
    for b in BACKENDS:
        pg1.neighbor(b, MAC_BACKEND[b])
    pg1.neighbor(BACKEND6, MAC_BACKEND6)
    c = vpp.client("calico_dnat")
    for link in (pg0, pg1):
        c.call(
            "calico_dnat_interface_enable_disable",
            sw_if_index=link.sw_if_index,
            is_enable=True,
            is_pod=link is pg1,  # the backend pods' side
        )
    c.call("calico_dnat_snat_address_set", is_set=True, addr=ip4(SNAT))
    c.call("calico_dnat_snat_address_set", is_set=True, addr=ipaddress.IPv6Address("fd01::1"))
    api = DnatApi(c)
    api.translations_update(
        [
            Translation(ip4(VIP), 80, PROTO_TCP, tuple(Backend(ip4(b), 8080) for b in BACKENDS)),
            Translation(ip4(VIP_HAIRPIN), 80, PROTO_TCP, (Backend(ip4(BACKENDS[0]), 8080),)),
            Translation(
                ipaddress.IPv6Address(VIP6),
                53,
                PROTO_UDP,
                (Backend(ipaddress.IPv6Address(BACKEND6), 5353),),
            ),
        ]
    )
    yield Net(vpp, pg0, pg1, PacketRun(vpp, [pg0, pg1]), api)


def syn(link: PgLink, src_mac: str, src: str, dst: str, sport: int, dport: int) -> Packet:
    return (
        Ether(src=src_mac, dst=link.mac)
        / IP(src=src, dst=dst, ttl=64)
        / TCP(sport=sport, dport=dport, flags="S", seq=1000)
    )


def test_plugins_are_loaded_and_answer_their_api(net: Net) -> None:
    plugins = net.vpp.cli("show plugins")
    assert "calico_dnat_plugin.so" in plugins and "calico_policy_plugin.so" in plugins
    rep = net.vpp.client("calico_dnat").call("calico_dnat_get_version")
    assert rep.values["major"] >= 1
    features = net.vpp.cli("show interface features pg0")
    assert "calico-dnat-ip4-in" in features and "calico-dnat-ip6-in" in features
    # the pod role comes with the API's enable: pg1 is the pods' side
    roles = net.vpp.cli("show calico dnat interfaces").splitlines()
    assert "pg1 pod" in roles and "pg0" in roles, roles
    dump = net.vpp.client("calico_dnat").dump("calico_dnat_interface_dump")
    assert [(d["sw_if_index"], d["is_pod"]) for d in dump] == [
        (net.client.sw_if_index, False),
        (net.pods.sw_if_index, True),
    ]


def test_vip_traffic_is_translated_to_a_backend(net: Net) -> None:
    flows = [syn(net.client, MAC_CLIENT, CLIENT, VIP, 20000 + i, 80) for i in range(32)]
    got = net.run.run({net.client: flows})
    out = got["pg1"]
    assert len(out) == len(flows)
    seen = set()
    for p in out:
        assert p[IP].src == CLIENT
        assert p[IP].dst in BACKENDS and p[TCP].dport == 8080
        assert p[Ether].dst == MAC_BACKEND[p[IP].dst]
        assert p[IP].ttl == 63
        assert_checksums(p)
        seen.add(p[IP].dst)
    assert seen == set(BACKENDS), "Maglev spreads 32 flows over both backends"
    assert sorted(p[TCP].sport for p in out) == [20000 + i for i in range(32)]


def test_return_traffic_is_reverse_translated(net: Net) -> None:
    got = net.run.run({net.client: [syn(net.client, MAC_CLIENT, CLIENT, VIP, 30000, 80)]})
    (fwd,) = got["pg1"]
    backend = fwd[IP].dst
    reply = (
        Ether(src=MAC_BACKEND[backend], dst=net.pods.mac)
        / IP(src=backend, dst=CLIENT)
        / TCP(sport=8080, dport=30000, flags="SA", seq=5000, ack=1001)
    )
    got = net.run.run({net.pods: [reply]})
    (back,) = got["pg0"]
    assert (back[IP].src, back[TCP].sport) == (VIP, 80)
    assert (back[IP].dst, back[TCP].dport) == (CLIENT, 30000)
    assert back[TCP].flags == "SA"
    assert_checksums(back)


def test_hairpin_flow_is_source_translated_and_its_reply_comes_back(net: Net) -> None:
    pod = BACKENDS[0]
    got = net.run.run({net.pods: [syn(net.pods, MAC_BACKEND[pod], pod, VIP_HAIRPIN, 40000, 80)]})
    (fwd,) = got["pg1"]
    assert (fwd[IP].dst, fwd[TCP].dport) == (pod, 8080)
    assert fwd[IP].src == SNAT, "the pod reaching itself is SNATed so the reply returns to VPP"
    assert_checksums(fwd)
    reply = (
        Ether(src=MAC_BACKEND[pod], dst=net.pods.mac)
        / IP(src=pod, dst=SNAT)
        / TCP(sport=8080, dport=fwd[TCP].sport, flags="SA", seq=7000, ack=1001)
    )
    got = net.run.run({net.pods: [reply]})
    (back,) = got["pg1"]
    assert (back[IP].src, back[TCP].sport) == (VIP_HAIRPIN, 80)
    assert (back[IP].dst, back[TCP].dport) == (pod, 40000)
    assert_checksums(back)


def test_ipv6_udp_is_translated_both_ways(net: Net) -> None:
    q = (
        Ether(src=MAC_CLIENT, dst=net.client.mac)
        / IPv6(src=CLIENT6, dst=VIP6, hlim=64)
        / UDP(sport=5000, dport=53)
        / (b"q" * 20)
    )
    (fwd,) = net.run.run({net.client: [q]})["pg1"]
    assert (fwd[IPv6].src, fwd[IPv6].dst, fwd[UDP].dport) == (CLIENT6, BACKEND6, 5353)
    assert_checksums(fwd)
    r = (
        Ether(src=MAC_BACKEND6, dst=net.pods.mac)
        / IPv6(src=BACKEND6, dst=CLIENT6)
        / UDP(sport=5353, dport=5000)
        / (b"r" * 20)
    )
    (back,) = net.run.run({net.pods: [r]})["pg0"]
    assert (back[IPv6].src, back[UDP].sport, back[UDP].dport) == (VIP6, 53, 5000)
    assert_checksums(back)


def test_vip_port_without_translation_is_dropped_and_counted(net: Net) -> None:
    got = net.run.run({net.client: [syn(net.client, MAC_CLIENT, CLIENT, VIP, 30001, 443)]})
    assert got["pg1"] == []
    assert "VIP address with no translation" in net.vpp.cli("show errors")


def test_cli_renders_translations_sessions_and_counters(net: Net) -> None:
    net.run.run({net.client: [syn(net.client, MAC_CLIENT, CLIENT, VIP, 30002, 80)]})
    xl = net.vpp.cli("show calico dnat translations")
    assert f"ClusterIP {VIP}:80 tcp" in xl and "10.1.0.11:8080" in xl
    sessions = net.vpp.cli("show calico dnat sessions")
    assert f"{CLIENT}:30002 -> {VIP}:80" in sessions
    counters = net.vpp.cli("show calico dnat counters")
    assert "sessions created" in counters
    net.vpp.cli("clear calico dnat counters")
    assert "sessions created" not in net.vpp.cli("show calico dnat counters")
    errors = net.vpp.cli("show errors")
    assert "forward packets translated" in errors


def test_bad_request_is_rejected_and_changes_nothing(net: Net) -> None:
    before = net.api.translations()
    bad = Translation(ip4("10.96.0.99"), 0, PROTO_TCP, (Backend(ip4(BACKENDS[0]), 8080),))
    with pytest.raises(ApiCallError):
        net.api.translations_update([bad])
    assert net.api.translations() == before
