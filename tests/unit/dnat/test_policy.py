"""The policy seam: a session stores its flow's verdict and the policy generation it was
computed under; the classifier runs once per flow, again only when the generation moves.
The classifier here is the core's small test hook (deny by destination port)."""

from __future__ import annotations

import pytest

from pycontrol.dnat.model import Backend, Protocol, Translation
from pycontrol.dnat.native import DnatCore, DnatError, Next, Outcome, TestPolicy, Verdict

from .helpers import addr, check_checksums, ipa, tcp

pytestmark = pytest.mark.native


@pytest.fixture
def policy(core: DnatCore) -> TestPolicy:
    p = TestPolicy()
    p.attach(core)
    return p


def service(core: DnatCore, af: int) -> str:
    vip = addr(af, 100, 96)
    core.update(
        Translation(ipa(vip), 80, Protocol.TCP, backends=(Backend(ipa(addr(af, 1, 1)), 8080),))
    )
    return vip


def test_verdict_is_computed_once_per_flow_and_cached_with_its_generation(core, af, policy):
    vip = service(core, af)
    c = addr(af, 5, 2)
    res = core.process([tcp(af, c, vip, 1000, 80)] + [tcp(af, c, vip, 1000, 80, "A")] * 5)
    assert all(r.verdict is Verdict.ALLOW and r.next is Next.FORWARD for r in res)
    for r in res:
        check_checksums(r.packet)
    assert policy.calls == 1
    (s,) = core.sessions()
    assert s.verdict is Verdict.ALLOW and s.policy_generation == 1
    core.process([tcp(af, addr(af, 1, 1), c, 8080, 1000, "SA")])
    assert policy.calls == 1  # return traffic rides on the flow's verdict


def test_policy_sees_the_translated_flow(core, af, policy):
    vip = service(core, af)
    policy.deny_port(8080)  # the backend port, not the service port
    (r,) = core.process([tcp(af, addr(af, 5, 2), vip, 1000, 80)])
    assert r.next is Next.DROP and r.outcome is Outcome.POLICY_DENY
    assert r.verdict is Verdict.DENY
    assert core.counters()["error_policy_deny"] == 1


def test_denied_flow_stays_denied_without_reclassification(core, af, policy):
    vip = service(core, af)
    policy.deny_port(8080)
    c = addr(af, 5, 2)
    res = core.process([tcp(af, c, vip, 1000, 80)] * 4)
    assert all(r.outcome is Outcome.POLICY_DENY for r in res)
    (back,) = core.process([tcp(af, addr(af, 1, 1), c, 8080, 1000, "SA")])
    assert back.outcome is Outcome.POLICY_DENY
    assert policy.calls == 1


def test_a_policy_change_reaches_established_flows(core, af, policy):
    vip = service(core, af)
    c = addr(af, 5, 2)
    core.process([tcp(af, c, vip, 1000, 80)])
    policy.deny_port(8080)  # generation 2
    (r,) = core.process([tcp(af, addr(af, 1, 1), c, 8080, 1000, "SA")])
    assert r.outcome is Outcome.POLICY_DENY  # even a return packet
    assert policy.calls == 2
    assert core.sessions()[0].policy_generation == 2
    policy.clear()  # generation 3
    (r,) = core.process([tcp(af, c, vip, 1000, 80, "A")])
    assert r.next is Next.FORWARD and r.verdict is Verdict.ALLOW


def test_without_a_hook_flows_carry_no_verdict(core, af):
    vip = service(core, af)
    (r,) = core.process([tcp(af, addr(af, 5, 2), vip, 1000, 80)])
    assert r.verdict is Verdict.NONE and r.next is Next.FORWARD
    p = TestPolicy()
    p.attach(core)
    (r,) = core.process([tcp(af, addr(af, 5, 2), vip, 1000, 80, "A")])
    assert r.verdict is Verdict.ALLOW and p.calls == 1  # attached later: classified once
    TestPolicy.detach(core)


def test_the_output_points_cached_verdict_is_reset_when_the_flow_is_classified_again(
    core, af, policy
):
    vip = service(core, af)
    c = addr(af, 5, 2)
    (r,) = core.process([tcp(af, c, vip, 1000, 80)])
    (s,) = core.sessions()
    assert s.out_verdict is Verdict.NONE  # nothing asked at the output point yet
    core.cache_out_verdict(r.session, 7, Verdict.ALLOW)
    core.process([tcp(af, c, vip, 1000, 80, "A")])
    (s,) = core.sessions()
    assert (s.out_verdict, s.out_endpoint) == (Verdict.ALLOW, 7)  # kept while valid
    policy.deny_port(9999)  # a new generation: both points must ask again
    core.process([tcp(af, c, vip, 1000, 80, "A")])
    (s,) = core.sessions()
    assert s.out_verdict is Verdict.NONE and s.policy_generation == 2


def test_a_new_flow_in_a_reused_record_starts_without_an_output_verdict(core, af, policy):
    vip = service(core, af)
    (r,) = core.process([tcp(af, addr(af, 5, 2), vip, 1000, 80)])
    core.cache_out_verdict(r.session, 7, Verdict.DENY)
    core.flush()
    (r2,) = core.process([tcp(af, addr(af, 5, 3), vip, 1001, 80)])
    assert r2.session == r.session  # the freed record is the next one handed out
    (s,) = core.sessions()
    assert s.out_verdict is Verdict.NONE
    with pytest.raises(DnatError):
        core.cache_out_verdict(r2.session + 1, 7, Verdict.ALLOW)
