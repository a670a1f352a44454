"""Stateful policy for flows nothing translates: while a policy hook is attached, every
TCP/UDP/SCTP flow and ICMP echo gets a tracked-only session (Calico's conntrack). The
first packet's verdict is cached; replies and ICMP errors about the flow are return
traffic of an admitted flow; no byte of any packet changes."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, IPv6
from scapy.packet import Raw

from pycontrol.dnat.model import Backend, DnatConfig, Protocol, Translation
from pycontrol.dnat.native import (
    DnatCore,
    Next,
    Outcome,
    ResultFlag,
    TcpState,
    TestPolicy,
    Verdict,
)

from .helpers import addr, icmp_echo, ipa, tcp, udp

pytestmark = pytest.mark.native

POD_A = 2
POD_B = 3


@pytest.fixture
def policy(core: DnatCore) -> TestPolicy:
    p = TestPolicy()
    p.attach(core)
    return p


def test_an_untranslated_flow_gets_a_tracked_session_and_no_byte_changes(core, af, policy):
    a, b = addr(af, POD_A, 7), addr(af, POD_B, 8)
    syn = tcp(af, a, b, 40000, 80)
    (r,) = core.process([syn])
    assert r.packet == syn and r.next is Next.FORWARD
    assert r.flags & ResultFlag.TRACKED and r.flags & ResultFlag.NEW
    assert not r.flags & (ResultFlag.DNAT | ResultFlag.SNAT | ResultFlag.REVERSE)
    assert r.verdict is Verdict.ALLOW and r.session is not None
    (s,) = core.sessions()
    assert s.flags & ResultFlag.TRACKED and s.backend_id is None
    synack = tcp(af, b, a, 80, 40000, "SA")
    (back,) = core.process([synack])
    assert back.packet == synack
    assert back.flags & ResultFlag.REVERSE and back.flags & ResultFlag.TRACKED
    assert back.session == r.session and policy.calls == 1
    (ack,) = core.process([tcp(af, a, b, 40000, 80, "A")])
    assert ack.session == r.session and core.sessions()[0].tcp_state is TcpState.ESTABLISHED
    # tracked packets are passed, not counted as rewritten
    assert core.counters()["rewritten"] == 0


def test_replies_of_an_admitted_flow_pass_a_policy_that_denies_them(core, af, policy):
    """The test policy denies by destination port: 40000 is the client's port, so a reply
    classified on its own would be denied; as return traffic of the flow it is not."""
    a, b = addr(af, POD_A, 7), addr(af, POD_B, 8)
    policy.deny_port(40000)
    core.process([udp(af, a, b, 40000, 53)])
    (back,) = core.process([udp(af, b, a, 53, 40000)])
    assert back.next is Next.FORWARD and back.verdict is Verdict.ALLOW
    assert back.flags & ResultFlag.REVERSE
    # the same packet as the first of a flow is classified, and denied
    (other,) = core.process([udp(af, addr(af, 9, 8), a, 53, 40000)])
    assert other.outcome is Outcome.POLICY_DENY and other.next is Next.DROP


def test_a_denied_tracked_flow_is_dropped_without_reclassification(core, af, policy):
    a, b = addr(af, POD_A, 7), addr(af, POD_B, 8)
    policy.deny_port(22)
    res = core.process([tcp(af, a, b, 40001, 22)] * 3)
    assert all(r.outcome is Outcome.POLICY_DENY and r.next is Next.DROP for r in res)
    assert policy.calls == 1
    policy.clear()  # a new generation reaches the established (denied) flow
    (r,) = core.process([tcp(af, a, b, 40001, 22, "A")])
    assert r.next is Next.FORWARD and r.verdict is Verdict.ALLOW and policy.calls == 2


def test_icmp_echo_is_tracked_by_its_id_and_an_unsolicited_reply_is_not(core, af, policy):
    a, b = addr(af, POD_A, 7), addr(af, POD_B, 8)
    req = icmp_echo(af, a, b, 77)
    (r,) = core.process([req])
    assert r.packet == req and r.flags & ResultFlag.TRACKED
    if af == 4:
        rep = bytes(IP(src=b, dst=a) / ICMP(type=0, id=77, seq=1) / b"ping")
        stray = bytes(IP(src=b, dst=a) / ICMP(type=0, id=78, seq=1) / b"ping")
    else:
        rep = bytes(IPv6(src=b, dst=a) / ICMPv6EchoReply(id=77, seq=1) / b"ping")
        stray = bytes(IPv6(src=b, dst=a) / ICMPv6EchoReply(id=78, seq=1) / b"ping")
    (back,) = core.process([rep])
    assert back.packet == rep and back.flags & ResultFlag.REVERSE
    (s,) = core.process([stray])
    assert s.session is None and s.packet == stray and len(core.sessions()) == 1


def test_an_icmp_error_about_a_tracked_flow_is_related_return_traffic(core, af, policy):
    a, b = addr(af, POD_A, 7), addr(af, POD_B, 8)
    syn = tcp(af, a, b, 40002, 443)
    (r,) = core.process([syn])
    router = addr(af, 254, 9)
    if af == 4:
        err = bytes(IP(src=router, dst=a) / ICMP(type=3, code=3) / Raw(load=syn))
    else:
        err = bytes(IPv6(src=router, dst=a) / ICMPv6DestUnreach(code=4) / Raw(load=syn))
    (e,) = core.process([err])
    assert e.packet == err and e.session == r.session
    assert e.flags & ResultFlag.ICMP_ERROR and e.flags & ResultFlag.REVERSE
    assert policy.calls == 1


def test_detaching_the_hook_drops_tracked_sessions_and_stops_tracking(core, af, policy):
    a, b = addr(af, POD_A, 7), addr(af, POD_B, 8)
    core.process([tcp(af, a, b, 40003, 80)])
    assert len(core.sessions()) == 1
    TestPolicy.detach(core)
    assert core.sessions() == []
    (r,) = core.process([tcp(af, a, b, 40004, 80)])
    assert r.session is None and r.verdict is Verdict.NONE


def test_tracked_flows_count_against_the_session_limit(af):
    core = DnatCore(DnatConfig(max_sessions=2))
    pol = TestPolicy()  # kept alive: the core calls into it
    pol.attach(core)
    a, b = addr(af, POD_A, 7), addr(af, POD_B, 8)
    res = core.process([tcp(af, a, b, 41000 + i, 80) for i in range(3)])
    assert [r.outcome for r in res[:2]] == [Outcome.NONE, Outcome.NONE]
    assert res[2].outcome is Outcome.SESSION_LIMIT and res[2].next is Next.DROP
    assert pol.calls == 2
    TestPolicy.detach(core)


def test_a_flow_with_a_translation_is_still_translated_not_tracked(core, af, policy):
    vip = addr(af, 100, 96)
    core.update(
        Translation(ipa(vip), 80, Protocol.TCP, backends=(Backend(ipa(addr(af, 1, 1)), 8080),))
    )
    (r,) = core.process([tcp(af, addr(af, POD_A, 7), vip, 40005, 80)])
    assert r.flags & ResultFlag.DNAT and not r.flags & ResultFlag.TRACKED
