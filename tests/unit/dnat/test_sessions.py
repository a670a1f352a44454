"""Session lifecycle: limits, exact removal on translation/backend changes, timeouts by
protocol and TCP state, bounded expiry, ClientIP affinity."""

from __future__ import annotations

import pytest

from pycontrol.dnat.model import Backend, DnatConfig, Protocol, ServiceOptions, Translation
from pycontrol.dnat.native import DnatCore, Next, Outcome, ResultFlag, TcpState

from .helpers import addr, fields, ipa, tcp, udp

pytestmark = pytest.mark.native

SYN, EST, CLOSE, UDP_T = 1000, 50000, 500, 3000


def small(af: int, max_sessions: int = 4096) -> DnatCore:
    return DnatCore(
        DnatConfig(
            max_sessions=max_sessions,
            tcp_syn_ms=SYN,
            tcp_established_ms=EST,
            tcp_closing_ms=CLOSE,
            udp_ms=UDP_T,
        )
    )


def norm(a: str) -> str:
    return str(ipa(a))


def svc(core: DnatCore, af: int, n: int = 3, last: int = 100, port: int = 80) -> str:
    vip = addr(af, last, 96)
    bes = tuple(Backend(ipa(addr(af, i, 1)), 8080) for i in range(1, n + 1))
    core.update(Translation(ipa(vip), port, Protocol.TCP, backends=bes))
    return vip


def test_session_limit_overflow_is_counted_and_dropped(af):
    core = small(af, max_sessions=8)
    vip = svc(core, af)
    res = core.process([tcp(af, addr(af, c, 2), vip, 1000, 80) for c in range(10)])
    assert [r.next for r in res] == [Next.FORWARD] * 8 + [Next.DROP] * 2
    assert res[9].outcome is Outcome.SESSION_LIMIT
    assert core.counters()["error_session_limit"] == 2
    # once the flows expire, the table takes new ones again
    (r,) = core.process([tcp(af, addr(af, 99, 2), vip, 1000, 80)], now_ms=SYN + 1)
    assert r.next is Next.FORWARD and r.flags & ResultFlag.NEW


def test_deleting_a_translation_removes_exactly_its_sessions(af):
    core = small(af)
    a = svc(core, af, last=100)
    b = svc(core, af, last=101)
    core.process([tcp(af, addr(af, c, 2), a, 1000, 80) for c in range(30)])
    core.process([tcp(af, addr(af, c, 2), b, 1000, 80) for c in range(20)])
    assert core.session_count() == 50
    tid = core.find(ipa(a), Protocol.TCP, 80)
    assert tid is not None
    core.delete(tid)
    assert {str(s.vip) for s in core.sessions()} == {norm(b)}
    assert len(core.sessions()) == 20
    assert core.expire(0) == 30  # reclaimed by the sweep, counted as stale
    assert core.counters()["sessions_stale"] == 30
    assert core.session_count() == 20


def test_removing_a_backend_removes_exactly_its_sessions(af):
    core = small(af)
    vip = addr(af, 100, 96)
    bes = tuple(Backend(ipa(addr(af, i, 1)), 8080) for i in range(1, 4))
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=bes))
    res = core.process([tcp(af, addr(af, c, 2), vip, 1000 + c, 80) for c in range(90)])
    before = {c: fields(r.packet)[1] for c, r in enumerate(res)}
    gone = norm(addr(af, 2, 1))
    n_gone = sum(d == gone for d in before.values())
    assert 0 < n_gone < 90
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=(bes[0], bes[2])))
    assert len(core.sessions()) == 90 - n_gone
    assert gone not in {str(s.backend) for s in core.sessions()}
    res2 = core.process([tcp(af, addr(af, c, 2), vip, 1000 + c, 80, "A") for c in range(90)])
    for c, r in enumerate(res2):
        d = fields(r.packet)[1]
        if before[c] == gone:
            assert d != gone and r.flags & ResultFlag.NEW  # rebalanced
        else:
            assert d == before[c] and not r.flags & ResultFlag.NEW  # kept


def test_tcp_timeouts_follow_the_connection_state(af):
    core = small(af)
    vip = svc(core, af, n=1)
    c = addr(af, 5, 2)
    be = addr(af, 1, 1)
    core.process([tcp(af, c, vip, 1000, 80, "S")], now_ms=0)
    (s,) = core.sessions()
    assert s.tcp_state is TcpState.SYN and s.expires_ms == SYN
    core.process([tcp(af, be, c, 8080, 1000, "SA")], now_ms=10)
    core.process([tcp(af, c, vip, 1000, 80, "A")], now_ms=20)
    (s,) = core.sessions()
    assert s.tcp_state is TcpState.ESTABLISHED and s.expires_ms == 20 + EST
    core.process([tcp(af, c, vip, 1000, 80, "FA")], now_ms=30)
    assert core.sessions()[0].tcp_state is TcpState.ESTABLISHED
    core.process([tcp(af, be, c, 8080, 1000, "FA")], now_ms=40)
    (s,) = core.sessions()
    assert s.tcp_state is TcpState.CLOSING and s.expires_ms == 40 + CLOSE
    assert core.expire(40 + CLOSE - 1) == 0
    assert core.expire(40 + CLOSE) == 1


def test_rst_closes_a_flow_quickly(af):
    core = small(af)
    vip = svc(core, af, n=1)
    c = addr(af, 5, 2)
    core.process([tcp(af, c, vip, 1000, 80, "S")], now_ms=0)
    core.process([tcp(af, addr(af, 1, 1), c, 8080, 1000, "R")], now_ms=5)
    (s,) = core.sessions()
    assert s.tcp_state is TcpState.CLOSING and s.expires_ms == 5 + CLOSE


def test_a_new_syn_on_a_closed_flow_opens_a_new_session(af):
    core = small(af)
    vip = svc(core, af, n=1)
    c = addr(af, 5, 2)
    core.process([tcp(af, c, vip, 1000, 80, "S")], now_ms=0)
    core.process([tcp(af, addr(af, 1, 1), c, 8080, 1000, "R")], now_ms=5)
    (r,) = core.process([tcp(af, c, vip, 1000, 80, "S")], now_ms=6)
    assert r.flags & ResultFlag.NEW
    assert core.sessions()[0].tcp_state is TcpState.SYN


def test_udp_sessions_expire_after_their_timeout(af):
    core = small(af)
    vip = addr(af, 100, 96)
    core.update(
        Translation(ipa(vip), 53, Protocol.UDP, backends=(Backend(ipa(addr(af, 1, 1)), 53),))
    )
    core.process([udp(af, addr(af, 5, 2), vip, 999, 53)], now_ms=100)
    assert core.sessions()[0].expires_ms == 100 + UDP_T
    (r,) = core.process([udp(af, addr(af, 5, 2), vip, 999, 53)], now_ms=100 + UDP_T)
    assert r.flags & ResultFlag.NEW  # the old one had expired
    assert core.counters()["sessions_expired"] == 1


def test_expiry_does_bounded_work_per_burst(af):
    core = small(af)
    vip = svc(core, af)
    core.process([tcp(af, addr(af, c % 250, 2), vip, 1000 + c, 80) for c in range(1000)], now_ms=0)
    assert core.session_count() == 1000
    unrelated = tcp(af, addr(af, 1, 3), addr(af, 2, 3), 1, 2)
    core.process([unrelated], now_ms=SYN + 1)
    freed = core.counters()["sessions_expired"]
    assert 0 < freed <= 64
    for _ in range(200):
        core.process([unrelated], now_ms=SYN + 1)
    assert core.session_count() == 0


def test_client_ip_affinity_sticks_until_its_timeout(af):
    core = small(af)
    vip = addr(af, 100, 96)
    one = (Backend(ipa(addr(af, 1, 1)), 8080),)
    opts = ServiceOptions(affinity_timeout_s=10)
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=one, options=opts))
    clients = [addr(af, c, 2) for c in range(1, 31)]
    core.process([tcp(af, c, vip, 1000, 80) for c in clients], now_ms=0)
    many = tuple(Backend(ipa(addr(af, i, 1)), 8080) for i in range(1, 9))
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=many, options=opts))
    # new connections (new ports) within the timeout stay with the first backend
    res = core.process([tcp(af, c, vip, 2000, 80) for c in clients], now_ms=5000)
    assert {fields(r.packet)[1] for r in res} == {norm(addr(af, 1, 1))}
    assert core.counters()["affinity_hits"] == 30
    # every flow of one client lands on one backend (the client address is the hash)
    res = core.process([tcp(af, clients[0], vip, p, 80) for p in range(3000, 3020)], now_ms=5000)
    assert len({fields(r.packet)[1] for r in res}) == 1
    # the timeout runs from the last new flow: 10 s after t=5 s, Maglev decides again
    res = core.process([tcp(af, c, vip, 4000, 80) for c in clients], now_ms=15001)
    assert len({fields(r.packet)[1] for r in res}) > 1


def test_same_client_port_to_two_vips_of_one_backend_is_remapped(af):
    core = small(af)
    a = svc(core, af, n=1, last=100)
    b = svc(core, af, n=1, last=101)
    c = addr(af, 5, 2)
    (ra,) = core.process([tcp(af, c, a, 1000, 80)])
    (rb,) = core.process([tcp(af, c, b, 1000, 80)])
    assert fields(ra.packet)[2] == 1000
    port_b = fields(rb.packet)[2]
    assert port_b != 1000 and rb.flags & ResultFlag.SNAT  # source port remapped
    assert fields(rb.packet)[0] == norm(c)  # the address is kept
    be = addr(af, 1, 1)
    (back_a,) = core.process([tcp(af, be, c, 8080, 1000, "SA")])
    (back_b,) = core.process([tcp(af, be, c, 8080, port_b, "SA")])
    assert fields(back_a.packet) == (norm(a), norm(c), 80, 1000)
    assert fields(back_b.packet) == (norm(b), norm(c), 80, 1000)
