"""calico_policy_plugin.so inside a real VPP, together with calico_dnat: policy verdicts on
real packets at the pod's ingress (output arc) and egress (input arc), evaluated after
DNAT, and return traffic of an admitted flow (translated or only tracked) passing an
ingress deny."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from pycontrol.vpp.instance import Vpp
from pycontrol.vpp.pg import PacketRun, PgLink
from pycontrol.vppapi.client import PluginClient
from pycontrol.vppapi.plugins import PROTO_TCP, Backend, DnatApi, Translation

from .conftest import assert_checksums, ip4

pytestmark = pytest.mark.needs_vpp

CLIENT, MAC_CLIENT = "10.0.0.2", "02:fe:00:00:00:02"
OTHER, MAC_OTHER = "10.2.0.2", "02:fe:00:00:02:02"  # a third network, not allowed in
POD, MAC_POD = "10.1.0.10", "02:fe:00:00:01:0a"
VIP_OK, VIP_BLOCKED = "10.96.1.10", "10.96.1.20"

ALLOW, DENY = 1, 2
MATCH_SRC_NET, MATCH_DST_PORTS = 0, 6
WORKLOAD = 0


def rule(rid: int, action: int, proto: int | None = None, **m: Any) -> dict[str, Any]:
    matches = []
    if "src_net" in m:
        matches.append({"kind": MATCH_SRC_NET, "value": {"prefix": m["src_net"]}})
    if "dst_ports" in m:
        lo, hi = m["dst_ports"]
        matches.append({"kind": MATCH_DST_PORTS, "value": {"ports": {"first": lo, "last": hi}}})
    return {
        "id": rid,
        "action": action,
        "ip_version": 0,
        "has_protocol": proto is not None,
        "protocol": proto or 0,
        "has_not_protocol": False,
        "not_protocol": 0,
        "icmp": 0,
        "icmp_type": 0,
        "icmp_code": 0,
        "not_icmp": 0,
        "not_icmp_type": 0,
        "not_icmp_code": 0,
        "n_matches": len(matches),
        "matches": matches,
    }


def ids_msg(oid: int, ingress: Sequence[int], egress: Sequence[int], key: str) -> dict[str, Any]:
    ids = [*ingress, *egress]
    return {"id": oid, "n_ingress": len(ingress), f"n_{key}": len(ids), f"{key}_ids": ids}


@dataclass
class Net:
    vpp: Vpp
    client: PgLink  # pg0: workload endpoint "client pod": ingress deny-all
    pods: PgLink  # pg1: workload endpoint "server pod": ingress tcp/8080 from 10.0.0.0/24
    other: PgLink  # pg2: no policy
    run: PacketRun
    pol: PluginClient


@pytest.fixture(scope="module")
def net(vpp: Vpp) -> Iterator[Net]:
    pg0 = PgLink(vpp, 0).create(["10.0.0.1/24"])
    pg1 = PgLink(vpp, 1).create(["10.1.0.1/24"])
    pg2 = PgLink(vpp, 2).create(["10.2.0.1/24"])
    pg0.neighbor(CLIENT, MAC_CLIENT)
    pg1.neighbor(POD, MAC_POD)
    pg2.neighbor(OTHER, MAC_OTHER)
    dn = vpp.client("calico_dnat")
    for link in (pg0, pg1, pg2):
        dn.call(
            "calico_dnat_interface_enable_disable", sw_if_index=link.sw_if_index, is_enable=True
        )
    dn.call("calico_dnat_snat_address_set", is_set=True, addr=ip4("10.1.0.1"))
    DnatApi(dn).translations_update(
        [
            Translation(ip4(VIP_OK), 80, PROTO_TCP, (Backend(ip4(POD), 8080),)),
            Translation(ip4(VIP_BLOCKED), 80, PROTO_TCP, (Backend(ip4(POD), 9090),)),
        ]
    )
    pol = vpp.client("calico_policy")
    pol.call_many(
        "calico_policy_rule_update",
        [
            rule(
                1,
                ALLOW,
                PROTO_TCP,
                src_net=ipaddress.ip_network("10.0.0.0/24"),
                dst_ports=(8080, 8080),
            ),
            rule(2, ALLOW),  # allow everything (profile egress)
        ],
    )
    pol.call("calico_policy_policy_update", **ids_msg(10, [1], [], "rule"))
    pol.call("calico_policy_policy_update", **ids_msg(11, [], [], "rule"))  # decides nothing
    pol.call("calico_policy_profile_update", **ids_msg(20, [], [2], "rule"))
    # tiers: a policy applies and none decides -> the tier's default (deny)
    pol.call("calico_policy_tier_update", default_action=DENY, **ids_msg(30, [10], [], "policy"))
    pol.call("calico_policy_tier_update", default_action=DENY, **ids_msg(31, [11], [], "policy"))
    for link, tier in ((pg1, 30), (pg0, 31)):
        pol.call(
            "calico_policy_endpoint_update",
            sw_if_index=link.sw_if_index,
            kind=WORKLOAD,
            n_tiers=1,
            n_forward_tiers=0,
            n_pre_dnat_tiers=0,
            n_untracked_tiers=0,
            n_ids=2,
            ids=[tier, 20],
        )
        pol.call(
            "calico_policy_interface_enable_disable", sw_if_index=link.sw_if_index, is_enable=True
        )
    assert int(pol.call("calico_policy_publish").values["generation"]) > 0
    yield Net(vpp, pg0, pg1, pg2, PacketRun(vpp, [pg0, pg1, pg2]), pol)


def tcp(
    link: PgLink, mac: str, src: str, dst: str, sport: int, dport: int, flags: str = "S"
) -> Packet:
    return (
        Ether(src=mac, dst=link.mac)
        / IP(src=src, dst=dst)
        / TCP(sport=sport, dport=dport, flags=flags)
    )


def test_ingress_rule_admits_its_port_and_the_tier_default_denies_the_rest(net: Net) -> None:
    got = net.run.run(
        {
            net.client: [
                tcp(net.client, MAC_CLIENT, CLIENT, POD, 1000, 8080),
                tcp(net.client, MAC_CLIENT, CLIENT, POD, 1001, 9090),
            ]
        }
    )
    out = got["pg1"]
    assert [(p[TCP].sport, p[TCP].dport) for p in out] == [(1000, 8080)]
    assert_checksums(out[0])
    assert "denied by policy" in net.vpp.cli("show errors")


def test_ingress_source_outside_the_allowed_network_is_denied(net: Net) -> None:
    got = net.run.run({net.other: [tcp(net.other, MAC_OTHER, OTHER, POD, 1002, 8080)]})
    assert got["pg1"] == []


def test_policy_sees_the_translated_destination(net: Net) -> None:
    got = net.run.run(
        {
            net.client: [
                tcp(net.client, MAC_CLIENT, CLIENT, VIP_OK, 2000, 80),
                tcp(net.client, MAC_CLIENT, CLIENT, VIP_BLOCKED, 2001, 80),
            ]
        }
    )
    out = got["pg1"]
    assert [(p[IP].dst, p[TCP].dport, p[TCP].sport) for p in out] == [(POD, 8080, 2000)]
    assert_checksums(out[0])


def pod_answers(net: Net, client_port: int, other_port: int) -> list[tuple[str, int, int]]:
    """The pod replies to the client's port and also opens a flow to another client port
    (the client's ingress denies everything): what reaches the client."""
    reply = tcp(net.pods, MAC_POD, POD, CLIENT, 8080, client_port, "SA")
    unsolicited = tcp(net.pods, MAC_POD, POD, CLIENT, 8080, other_port, "S")
    out = net.run.run({net.pods: [reply, unsolicited]})["pg0"]
    for p in out:
        assert_checksums(p)
    return [(p[IP].src, p[TCP].sport, p[TCP].dport) for p in out]


def test_session_reply_passes_the_client_ingress_deny_but_a_new_flow_does_not(net: Net) -> None:
    got = net.run.run({net.client: [tcp(net.client, MAC_CLIENT, CLIENT, VIP_OK, 2100, 80)]})
    assert len(got["pg1"]) == 1
    assert pod_answers(net, 2100, 2999) == [(VIP_OK, 80, 2100)]


def test_reply_of_an_untranslated_flow_passes_the_client_ingress_deny(net: Net) -> None:
    """No service involved: the flow is tracked only (stateful policy, as Calico's
    conntrack), so the server's reply is return traffic of an admitted flow."""
    syn = tcp(net.client, MAC_CLIENT, CLIENT, POD, 2200, 8080)
    got = net.run.run({net.client: [syn]})
    out = got["pg1"]
    assert [(p[IP].src, p[IP].dst, p[TCP].sport, p[TCP].dport) for p in out] == [
        (CLIENT, POD, 2200, 8080)
    ]
    assert_checksums(out[0])
    assert pod_answers(net, 2200, 2201) == [(POD, 8080, 2200)]
    assert "tracked" in net.vpp.cli("show calico dnat sessions")


def node_count(net: Net, node: str, reason: str) -> int:
    """A node's counter from `show errors` (0 when it never counted)."""
    for line in net.vpp.cli("show errors").splitlines():
        if node in line and reason in line:
            return int(line.split()[0])
    return 0


def test_output_verdict_is_cached_in_the_session_until_the_policy_changes(net: Net) -> None:
    node, cached = "calico-policy-ip4-out", "output verdict cached"
    before = node_count(net, node, cached)
    syn = tcp(net.client, MAC_CLIENT, CLIENT, VIP_OK, 2300, 80)
    ack = tcp(net.client, MAC_CLIENT, CLIENT, VIP_OK, 2300, 80, "A")
    assert len(net.run.run({net.client: [syn]})["pg1"]) == 1  # classified at the output
    got = net.run.run({net.client: [ack, ack]})["pg1"]
    assert [(p[IP].dst, p[TCP].dport) for p in got] == [(POD, 8080)] * 2
    assert node_count(net, node, cached) == before + 2  # both from the session's cache
    # the pod's ingress rule moves to another port: the next packet of the established
    # flow is classified again (new generation) and denied at the output point
    moved = rule(
        1, ALLOW, PROTO_TCP, src_net=ipaddress.ip_network("10.0.0.0/24"), dst_ports=(8081, 8081)
    )
    net.pol.call("calico_policy_rule_update", **moved)
    net.pol.call("calico_policy_publish")
    try:
        assert net.run.run({net.client: [ack]})["pg1"] == []
        assert node_count(net, node, cached) == before + 2
    finally:
        back = rule(
            1, ALLOW, PROTO_TCP, src_net=ipaddress.ip_network("10.0.0.0/24"), dst_ports=(8080, 8080)
        )
        net.pol.call("calico_policy_rule_update", **back)
        net.pol.call("calico_policy_publish")
    assert len(net.run.run({net.client: [ack]})["pg1"]) == 1


def test_unbound_interface_is_not_policed(net: Net) -> None:
    got = net.run.run({net.client: [tcp(net.client, MAC_CLIENT, CLIENT, OTHER, 3000, 22)]})
    assert len(got["pg2"]) == 1


def test_cli_shows_policy_objects_and_interfaces(net: Net) -> None:
    v = net.vpp
    assert "workload" in v.cli("show calico policy interfaces")
    assert "2 records" in v.cli("show calico policy rules")
    assert "2 records" in v.cli("show calico policy policies")
    assert "2 records" in v.cli("show calico policy tiers")
    assert "1 records" in v.cli("show calico policy profiles")
    assert "2 records" in v.cli("show calico policy endpoints")
    assert "0 records" in v.cli("show calico policy ipsets")
    assert "policy classifier attached" in v.cli("show calico dnat interfaces")
