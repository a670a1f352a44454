"""IPv4 and IPv6 flows share one session pool with two record layouts (an IPv4 record
holds its four addresses in its own cache line, an IPv6 record spills two of them into a
side entry at the same index): flows of both families created side by side, in one burst,
each keep exactly their own translation in both directions, in the session dump, in ICMP
errors, in what the policy hook sees, and through expiry with their SNAT ports."""

from __future__ import annotations

import ipaddress

import pytest

from pycontrol.dnat.model import Backend, DnatConfig, NatPrefixKind, Protocol, Translation
from pycontrol.dnat.native import DnatCore, Meta, Next, ResultFlag, TestPolicy

from .helpers import addr, check_checksums, fields, ipa, tcp, udp
from .test_icmp import error, split

pytestmark = pytest.mark.native

FLOWS = 24  # per family and kind: records of both layouts interleave in the pool


def norm(a: str) -> str:
    return str(ipa(a))


def external(af: int, last: int) -> str:
    return f"192.0.2.{last}" if af == 4 else f"2001:db8::{last}"


def setup(core: DnatCore) -> dict[int, tuple[str, str, str]]:
    """Per family: a ClusterIP (VIP, one backend) and natOutgoing from the pod pool."""
    out = {}
    for af in (4, 6):
        vip, be, node = addr(af, 100, 96), addr(af, 1, 1), addr(af, 1, 50)
        core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=(Backend(ipa(be), 8080),)))
        core.set_snat_address(af, ipa(node))
        pool = "10.2.0.0/16" if af == 4 else "fd00:2::/32"
        excl = "10.0.0.0/8" if af == 4 else "fd00::/16"
        core.add_snat_prefix(NatPrefixKind.NAT_OUTGOING, ipaddress.ip_network(pool))
        core.add_snat_prefix(NatPrefixKind.EXCLUDE, ipaddress.ip_network(excl))
        out[af] = (vip, be, node)
    return out


def mixed_flows(svc: dict[int, tuple[str, str, str]]) -> list[tuple[int, str, bytes]]:
    """(family, kind, first packet), alternating families and kinds packet by packet."""
    out = []
    for i in range(FLOWS):
        for af in (4, 6):
            vip = svc[af][0]
            out.append((af, "dnat", tcp(af, addr(af, 10 + i, 3), vip, 30000 + i, 80)))
            out.append((af, "snat", udp(af, addr(af, 10 + i, 2), external(af, 7), 40000 + i, 53)))
    return out


@pytest.fixture
def core() -> DnatCore:
    return DnatCore(DnatConfig(workers=1, max_sessions=1024, udp_ms=1000, tcp_syn_ms=1000))


def test_flows_of_both_families_side_by_side_keep_their_own_translation(core):
    svc = setup(core)
    flows = mixed_flows(svc)
    res = core.process([p for _, _, p in flows])
    assert core.session_count() == len(flows)
    replies = []
    for (af, kind, pkt), r in zip(flows, res, strict=True):
        assert r.next is Next.FORWARD and r.flags & ResultFlag.NEW
        check_checksums(r.packet)
        _, be, node = svc[af]
        client, dst, cport, dport = fields(pkt)
        s, d, sp, dp = fields(r.packet)
        if kind == "dnat":
            assert (s, d, sp, dp) == (client, norm(be), cport, 8080)
            replies.append(tcp(af, be, client, 8080, cport, "SA"))
        else:
            assert (s, d, dp) == (norm(node), dst, dport)
            replies.append(udp(af, dst, node, dport, sp))
    # the dump: every field of every record of either layout
    by_client = {(str(x.client), x.client_port): x for x in core.sessions()}
    assert len(by_client) == len(flows)
    for (af, kind, pkt), r in zip(flows, res, strict=True):
        client, dst, cport, dport = fields(pkt)
        x = by_client[(client, cport)]
        _, be, node = svc[af]
        assert x.family == af and x.index == r.session
        assert (str(x.vip), x.vip_port) == (dst, dport)
        if kind == "dnat":
            assert (str(x.backend), x.backend_port) == (norm(be), 8080)
            assert (str(x.snat), x.snat_port) == (client, cport)
        else:
            assert (str(x.backend), x.backend_port) == (dst, dport)
            assert (str(x.snat), x.snat_port) == (norm(node), fields(r.packet)[2])
    # the return direction, all in one burst: each packet back to its own client
    back = core.process(replies)
    for (_, _, pkt), r in zip(flows, back, strict=True):
        assert r.next is Next.FORWARD and r.flags & ResultFlag.REVERSE
        check_checksums(r.packet)
        client, dst, cport, dport = fields(pkt)
        assert fields(r.packet) == (dst, client, dport, cport)


def test_icmp_errors_about_flows_of_both_layouts_in_one_burst(core):
    svc = setup(core)
    flows = mixed_flows(svc)
    res = core.process([p for _, _, p in flows])
    errors = [
        error(af, "port_unreachable", addr(af, 254, 9), fields(pkt)[0], r.packet)
        for (af, _, pkt), r in zip(flows, res, strict=True)
    ]
    # a router's error about each translated packet, on its way back to the client
    out = core.process(errors)
    for (_, _, pkt), r in zip(flows, out, strict=True):
        assert r.flags & ResultFlag.ICMP_ERROR and r.flags & ResultFlag.REVERSE
        check_checksums(r.packet)
        (_, odst), quoted = split(r.packet)
        assert odst == fields(pkt)[0]
        assert fields(quoted) == fields(pkt)


def test_expiry_frees_records_of_both_layouts_and_their_snat_ports(core):
    svc = setup(core)
    flows = mixed_flows(svc)
    core.process([p for _, _, p in flows], now_ms=0)
    snat_flows = sum(kind == "snat" for _, kind, _ in flows)
    assert core.snat_ports_in_use() == snat_flows
    # refresh the IPv6 flows only: the IPv4 ones expire, the IPv6 ones stay
    core.process([p for af, _, p in flows if af == 6], now_ms=900)
    core.expire(1500)
    left = core.sessions()
    assert {x.family for x in left} == {6} and len(left) == len(flows) // 2
    assert core.snat_ports_in_use() == snat_flows // 2
    # a new IPv4 flow reuses a freed record next to live IPv6 ones; both still translate
    vip4, be4, _ = svc[4]
    (r4,) = core.process([tcp(4, addr(4, 99, 3), vip4, 5555, 80)], now_ms=1500)
    assert fields(r4.packet) == (norm(addr(4, 99, 3)), norm(be4), 5555, 8080)
    v6 = [p for af, kind, p in flows if af == 6 and kind == "dnat"]
    (r6,) = core.process(v6[:1], now_ms=1500)
    assert not r6.flags & ResultFlag.NEW and fields(r6.packet)[1] == norm(svc[6][1])
    core.expire(10_000)
    assert core.session_count() == 0 and core.snat_ports_in_use() == 0


def test_policy_sees_the_translated_flow_of_both_layouts(core):
    svc = setup(core)
    for af in (4, 6):
        vip = addr(af, 101, 96)
        core.update(
            Translation(ipa(vip), 80, Protocol.TCP, backends=(Backend(ipa(svc[af][1]), 9090),))
        )
    pol = TestPolicy()
    pol.attach(core)
    pol.deny_port(9090)  # the classifier sees the backend port, after translation
    pkts = []
    for i in range(8):
        for af in (4, 6):
            client = addr(af, 10 + i, 3)
            pkts.append(tcp(af, client, addr(af, 100, 96), 30000 + i, 80))  # allowed
            pkts.append(tcp(af, client, addr(af, 101, 96), 30000 + i, 80))  # denied
    res = core.process(pkts, meta=Meta(endpoint=7))
    for k, r in enumerate(res):
        if k % 2:
            assert r.next is Next.DROP
        else:
            assert r.next is Next.FORWARD and fields(r.packet)[3] == 8080
            check_checksums(r.packet)
    assert pol.calls >= 1
    TestPolicy.detach(core)
