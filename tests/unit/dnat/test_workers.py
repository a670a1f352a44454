"""Workers and handoff: cdn_flow_owner_burst names one worker for both directions of every
flow the core makes (DNAT with and without SNAT, NodePort, hairpin, no-NAT backends,
natOutgoing, tracked flows, flows straight to a backend, ICMP echo and ICMP errors), so a
host that hands each packet to that worker finds every reply's session. Each flow's
forward packet is processed on its owner, the reply is built from what came out, and the
reply must have the same owner and be reverse-translated there."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, IPv6
from scapy.packet import Packet, Raw

from pycontrol.dnat.model import (
    Backend,
    DnatConfig,
    NatPrefixKind,
    Protocol,
    ServiceOptions,
    Translation,
    VipKind,
)
from pycontrol.dnat.native import DnatCore, DnatError, Meta, ResultFlag, TestPolicy

from .helpers import addr, check_checksums, fields, icmp_echo, ipa, tcp, udp

pytestmark = pytest.mark.native

FROM_POD = Meta(from_pod=True)
KINDS = ("cluster", "nodeport_remote", "hairpin", "no_nat", "nat_outgoing", "tracked", "direct")


def net(af: int, n: int, last: int) -> str:
    return addr(af, last, n)


def external(af: int, last: int) -> str:
    return f"192.0.2.{last}" if af == 4 else f"2001:db8::{last}"


def make_core(
    af: int, workers: int, seed: int, owner_first: int = 0
) -> tuple[DnatCore, TestPolicy]:
    core = DnatCore(
        DnatConfig(
            workers=workers,
            owner_first=owner_first,
            max_sessions=4096,
            snat_port_min=20000,
            snat_port_max=29999,
            hash_seed=seed,
        )
    )
    node = net(af, 1, 50)
    core.add_node_address(ipa(node))
    core.set_snat_address(af, ipa(node))
    pool = "10.2.0.0/16" if af == 4 else "fd00:2::/32"
    core.add_snat_prefix(NatPrefixKind.NAT_OUTGOING, ipaddress.ip_network(pool))
    excl = "10.0.0.0/8" if af == 4 else "fd00::/16"
    core.add_snat_prefix(NatPrefixKind.EXCLUDE, ipaddress.ip_network(excl))
    backends = tuple(Backend(ipa(net(af, 3, 10 + i)), 8080) for i in range(4))
    core.update(Translation(ipa(net(af, 96, 10)), 80, Protocol.TCP, backends=backends))
    core.update(Translation(ipa(net(af, 96, 11)), 53, Protocol.UDP, backends=backends))
    core.update(
        Translation(
            None,
            30080,
            Protocol.TCP,
            kind=VipKind.NODE_PORT,
            backends=(Backend(ipa(net(af, 4, 20)), 8080),),
            family=af,
        )
    )
    # hairpin: the client pod is this service's only backend
    core.update(
        Translation(
            ipa(net(af, 96, 12)), 80, Protocol.TCP, backends=(Backend(ipa(net(af, 7, 5)), 80),)
        )
    )
    dsr = (Backend(ipa(net(af, 3, 30)), 80, no_nat=True),)
    core.update(Translation(ipa(net(af, 96, 13)), 80, Protocol.TCP, backends=dsr))
    policy = TestPolicy()
    policy.attach(core)
    return core, policy


def forward_packet(
    af: int, kind: str, client_last: int, cport: int, proto: str
) -> tuple[bytes, Meta | None]:
    client = net(af, 7, client_last)
    mk = udp if proto == "udp" else tcp
    if kind == "cluster":
        return mk(
            af,
            client,
            net(af, 96, 11 if proto == "udp" else 10),
            cport,
            53 if proto == "udp" else 80,
        ), FROM_POD
    if kind == "nodeport_remote":
        return tcp(af, external(af, client_last), net(af, 1, 50), cport, 30080), None
    if kind == "hairpin":
        return tcp(af, net(af, 7, 5), net(af, 96, 12), cport, 80), FROM_POD
    if kind == "no_nat":
        return tcp(af, client, net(af, 96, 13), cport, 80), FROM_POD
    if kind == "nat_outgoing":
        pod = net(af, 2, client_last) if af == 4 else f"fd00:2::{client_last:x}"
        if proto == "icmp":
            return icmp_echo(af, pod, external(af, 9), cport), FROM_POD
        return mk(af, pod, external(af, 9), cport, 443), FROM_POD
    if kind == "tracked":
        if proto == "icmp":
            return icmp_echo(af, client, net(af, 8, 9), cport), FROM_POD
        return mk(af, client, net(af, 8, 9), cport, 7000), FROM_POD
    assert kind == "direct"  # a client talking to a backend pod without the service
    return tcp(af, client, net(af, 3, 11), cport, 8080), FROM_POD


def reply_to(raw: bytes) -> bytes:
    """What the other end sends back: addresses and ports (or the echo) swapped."""
    p: Packet = IP(raw) if raw[0] >> 4 == 4 else IPv6(raw)
    if p.haslayer(ICMP):
        return bytes(IP(src=p.dst, dst=p.src) / ICMP(type=0, id=p[ICMP].id, seq=1) / b"ping")
    if p.haslayer("ICMPv6EchoRequest"):
        e = p["ICMPv6EchoRequest"]
        return bytes(IPv6(src=p.dst, dst=p.src) / ICMPv6EchoReply(id=e.id, seq=1) / b"ping")
    ip_hdr = IP(src=p.dst, dst=p.src) if p.version == 4 else IPv6(src=p.dst, dst=p.src)
    if p.haslayer(TCP):
        return bytes(ip_hdr / TCP(sport=p[TCP].dport, dport=p[TCP].sport, flags="SA") / b"hi")
    return bytes(ip_hdr / UDP(sport=p[UDP].dport, dport=p[UDP].sport) / b"answer")


def icmp_error_about(raw: bytes, router: str) -> bytes:
    """A router's destination-unreachable about the (translated) packet `raw`, sent back
    to its source."""
    p: Packet = IP(raw) if raw[0] >> 4 == 4 else IPv6(raw)
    if p.version == 4:
        return bytes(IP(src=router, dst=p.src) / ICMP(type=3, code=1) / raw[:28])
    return bytes(IPv6(src=router, dst=p.src) / ICMPv6DestUnreach(code=3) / raw[:48])


def run_flow(
    core: DnatCore,
    workers: int,
    first: int,
    af: int,
    kind: str,
    cl: int,
    cport: int,
    proto: str,
    ask: int,
) -> None:
    fwd, meta = forward_packet(af, kind, cl, cport, proto)
    (w,) = core.owners([fwd], worker=ask % workers)
    assert first <= w < workers
    (r,) = core.process([fwd], worker=w, meta=meta)
    assert r.session is not None, (kind, r)
    if kind not in ("tracked", "direct"):
        assert r.flags & (ResultFlag.DNAT | ResultFlag.SNAT | ResultFlag.NO_NAT), (kind, r.flags)
    check_checksums(r.packet)
    # the same flow's next forward packet, asked from any worker, has the same owner
    assert core.owners([fwd] * workers, worker=0) == [w] * workers
    assert {core.owners([fwd], worker=k)[0] for k in range(workers)} == {w}
    back = reply_to(r.packet)
    (wb,) = core.owners([back], worker=(ask + 1) % workers)
    assert wb == w, (kind, proto, w, wb)
    (rb,) = core.process([back], worker=w)
    assert rb.session == r.session
    if kind not in ("tracked", "direct"):
        assert rb.flags & ResultFlag.REVERSE
        check_checksums(rb.packet)
        if proto != "icmp":
            s, d, sp, dp = fields(fwd)
            assert fields(rb.packet) == (d, s, dp, sp)  # the client sees its service answer
    if proto != "icmp" and kind not in ("tracked", "direct", "no_nat"):
        err = icmp_error_about(r.packet, external(af, 77))
        assert core.owners([err], worker=(ask + 2) % workers) == [w]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    af=st.sampled_from([4, 6]),
    workers=st.integers(2, 8),
    first=st.integers(0, 1),
    seed=st.integers(0, 2**32),
    flows=st.lists(
        st.tuples(
            st.sampled_from(KINDS),
            st.integers(2, 250),
            st.integers(1024, 65535),
            st.sampled_from(["tcp", "udp", "icmp"]),
            st.integers(0, 7),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_both_directions_of_every_flow_have_one_owner(af, workers, first, seed, flows):
    core, _policy = make_core(af, workers, seed, first)
    seen: set[tuple[str, int, int, str]] = set()
    for kind, cl, cport, drawn, ask in flows:
        proto = drawn
        if proto == "icmp" and kind not in ("nat_outgoing", "tracked"):
            proto = "tcp"  # ICMP echo flows are natOutgoing or tracked ones
        if proto == "udp" and kind not in ("cluster", "nat_outgoing", "tracked"):
            proto = "tcp"  # the other kinds' services are TCP
        key = (kind, cl, cport, proto)
        if key in seen:
            continue  # the same flow twice is an established flow, not a new one
        seen.add(key)
        run_flow(core, workers, first, af, kind, cl, cport, proto, ask)


def test_owners_spread_flows_over_the_workers(af):
    core, _ = make_core(af, 4, 7)
    pkts = [forward_packet(af, "cluster", 2 + i % 200, 1024 + i, "tcp")[0] for i in range(4000)]
    counts = [0] * 4
    for w in core.owners(pkts):
        counts[w] += 1
    assert min(counts) > 4000 / 4 * 0.85, counts  # client endpoints hash evenly


def test_a_reply_on_the_wrong_worker_is_not_found(af):
    """Why the handoff is needed: sessions are per worker."""
    core, _ = make_core(af, 2, 3)
    fwd, meta = forward_packet(af, "cluster", 9, 40000, "tcp")
    (w,) = core.owners([fwd])
    (r,) = core.process([fwd], worker=w, meta=meta)
    back = reply_to(r.packet)
    (rb,) = core.process([back], worker=1 - w)
    assert not rb.flags & ResultFlag.REVERSE and rb.packet == back  # not translated back


def test_backend_markers_follow_translation_updates_and_deletes(af):
    core, _ = make_core(af, 8, 11)
    be = net(af, 5, 40)
    client = net(af, 7, 33)
    # a reply from be:9000 to the client goes by the client only while be:9000 is a backend
    reply = tcp(af, be, client, 9000, 45678, "SA")
    forward_direct = tcp(af, client, be, 45678, 9000)
    before = core.owners([reply, forward_direct])
    tid = core.update(
        Translation(ipa(net(af, 96, 20)), 80, Protocol.TCP, backends=(Backend(ipa(be), 9000),))
    )
    via_service = tcp(af, client, net(af, 96, 20), 45678, 80)
    owner_fwd = core.owners([via_service])[0]
    assert core.owners([reply, forward_direct]) == [owner_fwd, owner_fwd]
    # another translation with the same backend, then the first one goes: still a backend
    tid2 = core.update(
        Translation(ipa(net(af, 96, 21)), 80, Protocol.TCP, backends=(Backend(ipa(be), 9000),))
    )
    core.delete(tid)
    assert core.owners([reply]) == [owner_fwd]
    # replaced by another backend: be:9000 is no longer one
    core.update(
        Translation(
            ipa(net(af, 96, 21)), 80, Protocol.TCP, backends=(Backend(ipa(net(af, 5, 41)), 9000),)
        )
    )
    core.delete(tid2)
    assert core.owners([reply, forward_direct]) == before


def test_packets_no_session_concerns_stay_on_the_asking_worker(af):
    core, _ = make_core(af, 4, 5)
    junk = [b"", b"\x45\x00", bytes(IP(dst="10.0.0.1", proto=47) / Raw(b"gre!"))]
    if af == 6:
        junk[2] = bytes(IPv6(dst="fd00::1", nh=47) / Raw(b"gre!"))
    for k in range(4):
        assert core.owners(junk, worker=k) == [k, k, k]


def test_one_worker_owns_everything():
    core = DnatCore(DnatConfig(workers=1))
    assert core.owners([tcp(4, "10.0.0.1", "10.0.0.2", 1, 2)] * 3) == [0, 0, 0]


def test_ipv4_error_helper_builds_a_quoting_error():
    raw = tcp(4, "10.0.0.1", "10.0.0.2", 1000, 80)
    e = IP(icmp_error_about(raw, "192.0.2.1"))
    assert e.haslayer(IPerror) and e[TCPerror].sport == 1000


def test_service_options_do_not_change_the_owner(af):
    """Owners depend on endpoints, not on how a service balances (affinity, Local)."""
    core, _ = make_core(af, 4, 9)
    fwd, _m = forward_packet(af, "cluster", 12, 51000, "tcp")
    w = core.owners([fwd])[0]
    backends = tuple(Backend(ipa(net(af, 3, 10 + i)), 8080) for i in range(4))
    core.update(
        Translation(
            ipa(net(af, 96, 10)),
            80,
            Protocol.TCP,
            backends=backends,
            options=ServiceOptions(affinity_timeout_s=60),
        )
    )
    assert core.owners([fwd]) == [w]


def test_workers_below_owner_first_own_no_flow_and_no_port(af):
    """VPP with worker threads: the main thread (worker 0) hands every flow on."""
    core, _ = make_core(af, 3, 21, owner_first=1)
    pkts = [
        forward_packet(af, k, 2 + i % 240, 30000 + i, "tcp")[0] for i in range(300) for k in KINDS
    ]
    assert set(core.owners(pkts, worker=0)) == {1, 2}
    # natOutgoing from worker 0 itself (no handoff) finds no port of its own
    fwd, meta = forward_packet(af, "nat_outgoing", 9, 40001, "udp")
    (r,) = core.process([fwd], worker=0, meta=meta)
    assert r.session is None and core.snat_ports_in_use(0) == 0
    assert core.snat_port_worker(20000) == 1 and core.snat_port_worker(29999) == 2


def test_owner_first_must_leave_an_owner():
    with pytest.raises(DnatError):
        DnatCore(DnatConfig(workers=2, owner_first=2))
