"""DNAT of every service kind, return traffic, and the traffic-policy rules: scapy packets
in, packets out, every output checksum validated, IPv4 and IPv6."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP

from pycontrol.dnat.model import (
    Backend,
    HashField,
    Protocol,
    ServiceOptions,
    Translation,
    VipKind,
)
from pycontrol.dnat.native import DnatCore, Meta, Next, Outcome, ResultFlag

from .helpers import (
    addr,
    check_checksums,
    fields,
    ipa,
    sctp,
    tcp,
    udp,
)

pytestmark = pytest.mark.native

FROM_POD = Meta(from_pod=True)


def backends(af: int, n: int, net: int = 1, port: int = 8080, **kw: bool) -> tuple[Backend, ...]:
    return tuple(Backend(ipa(addr(af, i, net)), port, **kw) for i in range(1, n + 1))


def service(core: DnatCore, af: int, n: int = 3, port: int = 80, **kw: object) -> str:
    vip = addr(af, 100, 96)
    core.update(
        Translation(ipa(vip), port, Protocol.TCP, backends=backends(af, n), **kw)  # type: ignore[arg-type]
    )
    return vip


def norm(a: str) -> str:
    return str(ipa(a))


def test_dnat_and_reverse_for_several_clients_and_ports(core, af):
    vip = addr(af, 100, 96)
    bes = backends(af, 4)
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=bes))
    core.update(Translation(ipa(vip), 53, Protocol.UDP, backends=backends(af, 2, port=5353)))
    valid = {(str(b.address), b.port) for b in bes}
    for c in range(1, 9):
        client = addr(af, c, 2)
        for sport in (1025, 40000, 65535):
            (fwd,) = core.process([tcp(af, client, vip, sport, 80)])
            assert fwd.next is Next.FORWARD and fwd.flags & ResultFlag.DNAT
            check_checksums(fwd.packet)
            s, d, sp, dp = fields(fwd.packet)
            assert (s, sp) == (norm(client), sport)
            assert (d, dp) in valid
            (back,) = core.process([tcp(af, d, client, dp, sport, "SA")])
            assert back.flags & ResultFlag.REVERSE
            check_checksums(back.packet)
            assert fields(back.packet) == (norm(vip), norm(client), 80, sport)
        (u,) = core.process([udp(af, client, vip, 5000 + c, 53)])
        check_checksums(u.packet)
        assert fields(u.packet)[3] == 5353


def test_packets_of_an_established_flow_keep_their_backend(core, af):
    vip = service(core, af, n=8)
    first = core.process([tcp(af, addr(af, 7, 2), vip, 1234, 80)])[0]
    for _ in range(5):
        again = core.process([tcp(af, addr(af, 7, 2), vip, 1234, 80, "A")])[0]
        assert fields(again.packet) == fields(first.packet)
        assert again.session == first.session


def test_vip_port_without_translation_is_dropped_and_counted(core, af):
    vip = service(core, af)
    (r,) = core.process([tcp(af, addr(af, 5, 2), vip, 1000, 81)])
    assert r.next is Next.DROP and r.outcome is Outcome.VIP_NO_PORT
    (u,) = core.process([udp(af, addr(af, 5, 2), vip, 1000, 80)])
    assert u.outcome is Outcome.VIP_NO_PORT
    assert core.counters()["error_vip_no_port"] == 2
    assert core.session_count() == 0


def test_unsolicited_backend_traffic_is_left_alone(core, af):
    service(core, af)
    pkt = tcp(af, addr(af, 1, 1), addr(af, 5, 2), 8080, 40000, "SA")
    (r,) = core.process([pkt])
    assert r.next is Next.FORWARD and r.packet == pkt and r.session is None
    assert core.counters()["passed"] == 1


def test_traffic_unrelated_to_services_passes_untouched(core, af):
    service(core, af)
    pkts = [
        tcp(af, addr(af, 5, 2), addr(af, 9, 3), 1, 2),
        udp(af, addr(af, 5, 2), addr(af, 9, 3), 1, 2),
        b"\x45\x00",  # truncated
    ]
    for r, p in zip(core.process(pkts), pkts, strict=True):
        assert r.next is Next.FORWARD and r.packet == p
    assert core.counters()["unparsed"] == 1


def test_backend_change_sends_new_flows_to_new_backend_and_keeps_established(core, af):
    vip = addr(af, 100, 96)
    old = Backend(ipa(addr(af, 1, 1)), 8080)
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=(old,)))
    est = [tcp(af, addr(af, c, 2), vip, 2000 + c, 80) for c in range(1, 21)]
    for r in core.process(est):
        assert fields(r.packet)[1] == norm(addr(af, 1, 1))
    new = Backend(ipa(addr(af, 2, 1)), 8080)
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=(old, new)))
    # established flows stay on the old backend although Maglev now maps some to the new
    for r in core.process([tcp(af, addr(af, c, 2), vip, 2000 + c, 80, "A") for c in range(1, 21)]):
        assert fields(r.packet)[1] == norm(addr(af, 1, 1))
        check_checksums(r.packet)
    # replacing the old backend altogether: new flows go to the new one
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=(new,)))
    for r in core.process([tcp(af, addr(af, c, 3), vip, 3000 + c, 80) for c in range(1, 21)]):
        assert fields(r.packet)[1] == norm(addr(af, 2, 1))


def test_flow_hash_field_selection(core, af):
    vip4 = addr(af, 100, 96)
    vip5 = addr(af, 101, 96)
    bes = backends(af, 16)
    src_only = ServiceOptions(hash_fields=HashField.SRC_ADDR)
    core.update(Translation(ipa(vip4), 80, Protocol.TCP, backends=bes, options=src_only))
    core.update(Translation(ipa(vip5), 80, Protocol.TCP, backends=bes))
    client = addr(af, 5, 2)
    by_src = {
        fields(r.packet)[1]
        for r in core.process([tcp(af, client, vip4, p, 80) for p in range(1000, 1064)])
    }
    by_tuple = {
        fields(r.packet)[1]
        for r in core.process([tcp(af, client, vip5, p, 80) for p in range(1000, 1064)])
    }
    assert len(by_src) == 1  # one client, one backend
    assert len(by_tuple) > 8  # the 5-tuple spreads one client's flows


def test_zero_backends_is_a_counted_drop(core, af):
    vip = addr(af, 100, 96)
    core.update(Translation(ipa(vip), 80, Protocol.TCP))
    (r,) = core.process([tcp(af, addr(af, 5, 2), vip, 1000, 80)])
    assert r.next is Next.DROP and r.outcome is Outcome.NO_BACKEND
    assert core.counters()["error_no_backend"] == 1 and core.session_count() == 0


def test_weight_zero_backend_receives_no_new_flow(core, af):
    vip = addr(af, 100, 96)
    bes = (Backend(ipa(addr(af, 1, 1)), 8080, weight=0), Backend(ipa(addr(af, 2, 1)), 8080))
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=bes))
    got = {
        fields(r.packet)[1]
        for r in core.process([tcp(af, addr(af, c, 2), vip, 1000 + c, 80) for c in range(64)])
    }
    assert got == {norm(addr(af, 2, 1))}


def test_weights_share_new_flows(core, af):
    vip = addr(af, 100, 96)
    bes = (
        Backend(ipa(addr(af, 1, 1)), 8080, weight=1),
        Backend(ipa(addr(af, 2, 1)), 8080, weight=3),
    )
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=bes))
    core_flows = [tcp(af, addr(af, c % 200, 2), vip, 1000 + c, 80) for c in range(2000)]
    heavy = sum(fields(r.packet)[1] == norm(addr(af, 2, 1)) for r in core.process(core_flows))
    assert 0.70 < heavy / 2000 < 0.80


def test_terminating_backends_serve_only_when_no_ready_backend_remains(core, af):
    vip = addr(af, 100, 96)
    ready = Backend(ipa(addr(af, 1, 1)), 8080)
    term = Backend(ipa(addr(af, 2, 1)), 8080, terminating=True)
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=(ready, term)))
    got = {
        fields(r.packet)[1]
        for r in core.process([tcp(af, addr(af, c, 2), vip, 1000 + c, 80) for c in range(64)])
    }
    assert got == {norm(addr(af, 1, 1))}
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=(term,)))
    got = {
        fields(r.packet)[1]
        for r in core.process([tcp(af, addr(af, c, 3), vip, 1000 + c, 80) for c in range(64)])
    }
    assert got == {norm(addr(af, 2, 1))}


def test_no_nat_backend_is_forwarded_with_the_vip_kept(core, af):
    vip = addr(af, 100, 96)
    be = Backend(ipa(addr(af, 1, 1)), 8080, no_nat=True)
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=(be,)))
    pkt = tcp(af, addr(af, 5, 2), vip, 1000, 80)
    (r,) = core.process([pkt])
    assert r.flags & ResultFlag.NO_NAT and r.packet == pkt and r.backend is not None


def test_sctp_is_translated_with_its_crc(core, af):
    vip = addr(af, 100, 96)
    core.update(Translation(ipa(vip), 3868, Protocol.SCTP, backends=backends(af, 1, port=3869)))
    (r,) = core.process([sctp(af, addr(af, 5, 2), vip, 5000, 3868)])
    check_checksums(r.packet)
    assert fields(r.packet)[1:] == (norm(addr(af, 1, 1)), 5000, 3869)
    (b,) = core.process([sctp(af, addr(af, 1, 1), addr(af, 5, 2), 3869, 5000)])
    check_checksums(b.packet)
    assert fields(b.packet) == (norm(vip), norm(addr(af, 5, 2)), 3868, 5000)


def test_udp_over_ipv4_zero_checksum_stays_zero(core):
    vip = "10.96.0.100"
    core.update(Translation(ipa(vip), 53, Protocol.UDP, backends=backends(4, 1, port=5353)))
    pkt = bytearray(bytes(IP(src="10.2.0.5", dst=vip) / UDP(sport=999, dport=53) / b"q"))
    pkt[26:28] = b"\0\0"
    (r,) = core.process([bytes(pkt)])
    assert r.packet[26:28] == b"\0\0"
    check_checksums(r.packet)
    assert fields(r.packet)[3] == 5353


def test_nodeport_answers_on_every_node_address(core, af):
    n1, n2 = addr(af, 1, 50), addr(af, 2, 50)
    core.add_node_address(ipa(n1))
    core.add_node_address(ipa(n2))
    core.set_snat_address(af, ipa(n1))
    bes = backends(af, 2, local=True)
    core.update(
        Translation(None, 30080, Protocol.TCP, kind=VipKind.NODE_PORT, backends=bes, family=af)
    )
    for node in (n1, n2):
        (r,) = core.process([tcp(af, addr(af, 9, 200), node, 4000, 30080)])
        assert r.flags & ResultFlag.DNAT
        check_checksums(r.packet)
        s, d, sp, dp = fields(r.packet)
        assert dp == 8080 and s == norm(addr(af, 9, 200))  # local backend: source kept
        # the same client port towards both node addresses: when both flows land on one
        # backend, the second one's source port is remapped (clash resolution)
        (back,) = core.process([tcp(af, d, s, 8080, sp, "SA")])
        assert fields(back.packet) == (norm(node), norm(addr(af, 9, 200)), 30080, 4000)
    # a port that is no NodePort on a node address is the host's business
    (other,) = core.process([tcp(af, addr(af, 9, 200), n1, 4000, 22)])
    assert other.next is Next.FORWARD and other.session is None


def test_nodeport_to_a_remote_backend_is_snated_to_the_node_address(core, af):
    node = addr(af, 1, 50)
    core.add_node_address(ipa(node))
    core.set_snat_address(af, ipa(node))
    remote = (Backend(ipa(addr(af, 1, 1)), 8080),)
    core.update(
        Translation(None, 30080, Protocol.TCP, kind=VipKind.NODE_PORT, backends=remote, family=af)
    )
    client = addr(af, 9, 200)
    (r,) = core.process([tcp(af, client, node, 4000, 30080)])
    assert r.flags & ResultFlag.SNAT
    check_checksums(r.packet)
    s, d, sp, dp = fields(r.packet)
    assert (s, d, dp) == (norm(node), norm(addr(af, 1, 1)), 8080)
    (back,) = core.process([tcp(af, d, node, 8080, sp, "SA")])
    check_checksums(back.packet)
    assert fields(back.packet) == (norm(node), norm(client), 30080, 4000)


def test_external_traffic_policy_local_selects_local_backends_and_keeps_the_source(core, af):
    node = addr(af, 1, 50)
    core.add_node_address(ipa(node))
    core.set_snat_address(af, ipa(node))
    bes = (Backend(ipa(addr(af, 1, 1)), 8080), Backend(ipa(addr(af, 2, 1)), 8080, local=True))
    core.update(
        Translation(
            None,
            30080,
            Protocol.TCP,
            kind=VipKind.NODE_PORT,
            backends=bes,
            family=af,
            options=ServiceOptions(external_traffic_local=True),
        )
    )
    for r in core.process([tcp(af, addr(af, c, 200), node, 4000 + c, 30080) for c in range(32)]):
        _, d, _, _ = fields(r.packet)
        assert d == norm(addr(af, 2, 1)) and not r.flags & ResultFlag.SNAT
    # no local backend left: Local traffic is dropped, not sent away
    core.update(
        Translation(
            None,
            30080,
            Protocol.TCP,
            kind=VipKind.NODE_PORT,
            backends=bes[:1],
            family=af,
            options=ServiceOptions(external_traffic_local=True),
        )
    )
    (r,) = core.process([tcp(af, addr(af, 99, 200), node, 4000, 30080)])
    assert r.outcome is Outcome.NO_BACKEND


def test_load_balancer_ip_from_outside_is_snated_unless_local(core, af):
    lb = addr(af, 7, 77)
    core.set_snat_address(af, ipa(addr(af, 1, 50)))
    core.update(
        Translation(
            ipa(lb), 443, Protocol.TCP, kind=VipKind.LOAD_BALANCER, backends=backends(af, 2)
        )
    )
    (r,) = core.process([tcp(af, addr(af, 9, 200), lb, 4000, 443)])
    assert r.flags & ResultFlag.SNAT
    # the same VIP reached by a pod: internal traffic keeps its source
    (p,) = core.process([tcp(af, addr(af, 9, 2), lb, 4000, 443)], meta=FROM_POD)
    assert not p.flags & ResultFlag.SNAT
    check_checksums(p.packet)


def test_internal_traffic_policy_local_selects_local_backends(core, af):
    vip = addr(af, 100, 96)
    bes = (Backend(ipa(addr(af, 1, 1)), 8080), Backend(ipa(addr(af, 2, 1)), 8080, local=True))
    core.update(
        Translation(
            ipa(vip),
            80,
            Protocol.TCP,
            backends=bes,
            options=ServiceOptions(internal_traffic_local=True),
        )
    )
    got = {
        fields(r.packet)[1]
        for r in core.process(
            [tcp(af, addr(af, c, 2), vip, 1000 + c, 80) for c in range(64)], meta=FROM_POD
        )
    }
    assert got == {norm(addr(af, 2, 1))}


def test_hairpin_to_own_service_is_snated(core, af):
    vip = addr(af, 100, 96)
    pod = addr(af, 1, 1)
    node = addr(af, 1, 50)
    core.set_snat_address(af, ipa(node))
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=(Backend(ipa(pod), 8080),)))
    (r,) = core.process([tcp(af, pod, vip, 5555, 80)], meta=FROM_POD)
    assert r.flags & ResultFlag.HAIRPIN and r.flags & ResultFlag.SNAT
    check_checksums(r.packet)
    s, d, sp, dp = fields(r.packet)
    assert (s, d, dp) == (norm(node), norm(pod), 8080)
    (back,) = core.process([tcp(af, pod, node, 8080, sp, "SA")])
    check_checksums(back.packet)
    assert fields(back.packet) == (norm(vip), norm(pod), 80, 5555)


def test_hairpin_without_snat_address_is_a_counted_drop(core, af):
    vip = addr(af, 100, 96)
    pod = addr(af, 1, 1)
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=(Backend(ipa(pod), 8080),)))
    (r,) = core.process([tcp(af, pod, vip, 5555, 80)], meta=FROM_POD)
    assert r.next is Next.DROP and r.outcome is Outcome.SNAT_UNCONFIGURED
