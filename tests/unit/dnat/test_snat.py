"""natOutgoing SNAT: pools, exclusion prefixes, the port allocator (no collision, no
leak), ICMP echo with the id as the port."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6EchoReply, IPv6

from pycontrol.dnat.model import DnatConfig, NatPrefixKind
from pycontrol.dnat.native import DnatCore, Next, Outcome, ResultFlag

from .helpers import addr, check_checksums, fields, icmp_echo, ipa, tcp, udp

pytestmark = pytest.mark.native


def external(af: int, last: int) -> str:
    return f"192.0.2.{last}" if af == 4 else f"2001:db8::{last}"


def norm(a: str) -> str:
    return str(ipa(a))


def setup_nat(core: DnatCore, af: int) -> str:
    node = addr(af, 1, 50)
    core.set_snat_address(af, ipa(node))
    pool = "10.2.0.0/16" if af == 4 else "fd00:2::/32"
    core.add_snat_prefix(NatPrefixKind.NAT_OUTGOING, ipaddress.ip_network(pool))
    excl = "10.0.0.0/8" if af == 4 else "fd00::/16"
    core.add_snat_prefix(NatPrefixKind.EXCLUDE, ipaddress.ip_network(excl))
    return node


def test_pod_traffic_leaving_the_cluster_is_snated_and_replies_come_back(core, af):
    node = setup_nat(core, af)
    pod, ext = addr(af, 7, 2), external(af, 10)
    for mk in (tcp, udp):
        (r,) = core.process([mk(af, pod, ext, 33333, 443)])
        assert r.flags & ResultFlag.SNAT and not r.flags & ResultFlag.DNAT
        check_checksums(r.packet)
        s, d, sp, dp = fields(r.packet)
        assert (s, d, dp) == (norm(node), norm(ext), 443)
        (back,) = core.process([mk(af, ext, node, 443, sp)])
        assert back.flags & ResultFlag.REVERSE
        check_checksums(back.packet)
        assert fields(back.packet) == (norm(ext), norm(pod), 443, 33333)


def test_excluded_destinations_and_other_sources_are_not_snated(core, af):
    setup_nat(core, af)
    inside = tcp(af, addr(af, 7, 2), addr(af, 9, 3), 1000, 80)  # pod to pod
    stranger = tcp(af, addr(af, 7, 4), external(af, 10), 1000, 80)  # not a natOutgoing pool
    for pkt in (inside, stranger):
        (r,) = core.process([pkt])
        assert r.packet == pkt and r.session is None
    core.del_snat_prefix(
        NatPrefixKind.EXCLUDE, ipaddress.ip_network("10.0.0.0/8" if af == 4 else "fd00::/16")
    )
    (r,) = core.process([inside])
    assert r.flags & ResultFlag.SNAT  # without the exclusion the same packet is SNATed


def test_icmp_echo_is_snated_with_the_id_as_port(core, af):
    node = setup_nat(core, af)
    pod, ext = addr(af, 7, 2), external(af, 10)
    (r,) = core.process([icmp_echo(af, pod, ext, 4242)])
    assert r.flags & ResultFlag.SNAT
    check_checksums(r.packet)
    if af == 4:
        p = IP(r.packet)
        new_id = int(p[ICMP].id)
        reply = bytes(IP(src=ext, dst=node) / ICMP(type=0, id=new_id, seq=1) / b"ping")
    else:
        p6 = IPv6(r.packet)
        new_id = int(p6.payload.id)
        reply = bytes(IPv6(src=ext, dst=node) / ICMPv6EchoReply(id=new_id, seq=1) / b"ping")
    assert str((p if af == 4 else p6).src) == norm(node)
    (back,) = core.process([reply])
    check_checksums(back.packet)
    q = IP(back.packet) if af == 4 else IPv6(back.packet)
    assert str(q.dst) == norm(pod) and int(q.payload.id) == 4242


def test_same_source_port_from_many_pods_gets_distinct_snat_ports(core, af):
    setup_nat(core, af)
    ext = external(af, 10)
    res = core.process([tcp(af, addr(af, c, 2), ext, 5000, 443) for c in range(1, 101)])
    ports = [fields(r.packet)[2] for r in res]
    assert len(set(ports)) == 100
    assert core.snat_ports_in_use() == 100


def test_port_exhaustion_is_a_counted_drop(af):
    core = DnatCore(DnatConfig(max_sessions=64, snat_port_min=40000, snat_port_max=40009))
    setup_nat(core, af)
    res = core.process([tcp(af, addr(af, c, 2), external(af, 1), 5000, 443) for c in range(12)])
    assert sum(r.flags & ResultFlag.SNAT != 0 for r in res) == 10
    assert [r.outcome for r in res[10:]] == [Outcome.SNAT_EXHAUSTED] * 2
    assert all(r.next is Next.DROP for r in res[10:])
    assert core.counters()["error_snat_exhausted"] == 2


def test_workers_use_disjoint_port_slices(af):
    core = DnatCore(DnatConfig(workers=2, snat_port_min=40000, snat_port_max=40099))
    setup_nat(core, af)
    p0 = {
        fields(r.packet)[2]
        for r in core.process(
            [tcp(af, addr(af, c, 2), external(af, 1), 40010, 443) for c in range(20)], worker=0
        )
    }
    p1 = {
        fields(r.packet)[2]
        for r in core.process(
            [tcp(af, addr(af, c, 2), external(af, 1), 40010, 443) for c in range(20)], worker=1
        )
    }
    assert not p0 & p1
    assert all(40000 <= p < 40050 for p in p0) and all(40050 <= p < 40100 for p in p1)
    assert {core.snat_port_worker(p) for p in p0} == {0}
    assert {core.snat_port_worker(p) for p in p1} == {1}
    assert core.snat_port_worker(80) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["open", "advance", "flush"]), st.integers(1, 40)),
        min_size=1,
        max_size=25,
    )
)
def test_snat_port_allocator_never_leaks_or_collides(ops):
    af = 4
    core = DnatCore(
        DnatConfig(max_sessions=256, snat_port_min=50000, snat_port_max=50063, udp_ms=1000)
    )
    setup_nat(core, af)
    now = 0
    flow = 0
    for op, k in ops:
        if op == "open":
            pkts = []
            for _ in range(k):
                flow += 1
                pkts.append(udp(af, addr(af, flow % 250 + 1, 2), external(af, 1), 7000, 53))
            core.process(pkts, now_ms=now)
        elif op == "advance":
            now += k * 100
            core.expire(now)
        else:
            core.flush()
        live = [s for s in core.sessions() if s.flags & ResultFlag.SNAT]
        ports = [s.snat_port for s in live]
        assert len(ports) == len(set(ports))  # no collision
        assert core.snat_ports_in_use() == len(ports)  # no leak
        assert all(50000 <= p <= 50063 for p in ports)
    core.flush()
    assert core.snat_ports_in_use() == 0
