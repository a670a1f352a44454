"""Calico semantics, one behaviour per test, through the native core with scapy packets
(each expectation also checked against the reference evaluator)."""

from __future__ import annotations

import ipaddress

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

from pycontrol.common.packet import parse
from pycontrol.policy import reference
from pycontrol.policy.model import (
    Action,
    Config,
    Direction,
    Endpoint,
    EndpointKind,
    IcmpMatch,
    IPPortMember,
    IPSet,
    IPSetType,
    Policy,
    PortRange,
    Rule,
    Stage,
    Tier,
    network,
)
from pycontrol.policy.native import Counter, NativePolicy
from pycontrol.policy.reference import Match, Owner, Reason, Verdict

pytestmark = pytest.mark.native

IN, OUT = Direction.INGRESS, Direction.EGRESS


def tcp(src="10.0.0.1", dst="10.0.0.2", sport=1234, dport=80) -> bytes:
    return bytes(IP(src=src, dst=dst) / TCP(sport=sport, dport=dport))


def run(
    cfg: Config, pkt: bytes, ep: int = 1, stage: Stage = Stage.NORMAL, d: Direction = IN
) -> tuple[Verdict, Match]:
    with NativePolicy() as n:
        n.apply(cfg)
        got = n.classify([pkt], [ep], [stage], [d])[0]
    want = reference.evaluate(cfg, ep, stage, d, parse(pkt))
    assert got == (want.verdict, want.match)
    return got


def cfg_with(
    *tiers: Tier,
    profiles: tuple[int, ...] = (),
    kind=EndpointKind.WORKLOAD,
    **host_tiers: tuple[Tier, ...],
) -> Config:
    return Config(endpoints={1: Endpoint(1, kind, tuple(tiers), profiles=profiles, **host_tiers)})


def test_first_matching_rule_decides():
    cfg = cfg_with(Tier(ingress_policies=(1,)))
    cfg.policies[1] = Policy(
        1,
        inbound=(
            Rule(Action.DENY, dst_ports=(PortRange(22, 22),)),
            Rule(Action.ALLOW, protocol=6),
            Rule(Action.DENY),
        ),
    )
    assert run(cfg, tcp(dport=80)) == (Verdict.ALLOW, Match(Reason.RULE, Owner.POLICY, 1, 1, 0))
    assert run(cfg, tcp(dport=22))[1].rule == 0


def test_pass_jumps_to_the_next_tier_skipping_the_rest_of_its_tier():
    cfg = cfg_with(Tier(ingress_policies=(1, 2)), Tier(ingress_policies=(3,)))
    cfg.policies[1] = Policy(1, inbound=(Rule(Action.PASS),))
    cfg.policies[2] = Policy(2, inbound=(Rule(Action.DENY),))
    cfg.policies[3] = Policy(3, inbound=(Rule(Action.ALLOW),))
    assert run(cfg, tcp()) == (Verdict.ALLOW, Match(Reason.RULE, Owner.POLICY, 3, 0, 1))


def test_tier_whose_policies_all_miss_applies_its_default_action():
    cfg = cfg_with(Tier(ingress_policies=(1,)), Tier(ingress_policies=(2,)))
    cfg.policies[1] = Policy(1, inbound=(Rule(Action.ALLOW, protocol=17),))
    cfg.policies[2] = Policy(2, inbound=(Rule(Action.ALLOW),))
    assert run(cfg, tcp()) == (Verdict.DENY, Match(Reason.TIER_DEFAULT, tier=0))
    cfg.endpoints[1] = Endpoint(
        1,
        tiers=(
            Tier(ingress_policies=(1,), default_action=Action.PASS),
            Tier(ingress_policies=(2,)),
        ),
    )
    assert run(cfg, tcp())[0] is Verdict.ALLOW


def test_profiles_apply_after_every_tier_passed_and_end_in_deny():
    cfg = cfg_with(Tier(ingress_policies=(1,)), profiles=(1, 2))
    cfg.policies[1] = Policy(1, inbound=(Rule(Action.PASS),))
    cfg.profiles[1] = Policy(1, inbound=(Rule(Action.PASS), Rule(Action.DENY)))
    cfg.profiles[2] = Policy(2, inbound=(Rule(Action.ALLOW, protocol=6),))
    assert run(cfg, tcp()) == (Verdict.ALLOW, Match(Reason.RULE, Owner.PROFILE, 2, 0, 0))
    assert run(cfg, bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP())) == (
        Verdict.DENY,
        Match(Reason.PROFILE_END),
    )


def test_tier_without_policies_for_the_direction_does_not_apply():
    cfg = cfg_with(Tier(egress_policies=(1,)), profiles=(1,))
    cfg.policies[1] = Policy(1, outbound=(Rule(Action.DENY),))
    cfg.profiles[1] = Policy(1, inbound=(Rule(Action.ALLOW),))
    assert run(cfg, tcp(), d=IN)[0] is Verdict.ALLOW
    assert run(cfg, tcp(), d=OUT)[0] is Verdict.DENY


def test_log_rule_counts_and_evaluation_continues():
    cfg = cfg_with(Tier(ingress_policies=(1,)))
    cfg.policies[1] = Policy(1, inbound=(Rule(Action.LOG), Rule(Action.ALLOW)))
    with NativePolicy() as n:
        n.apply(cfg)
        ((v, m),) = n.classify([tcp()], [1], [Stage.NORMAL], [IN])
        assert (v, m.rule) == (Verdict.ALLOW, 1)
        assert n.rule_counter(Owner.POLICY, 1, IN, 0) == Counter(1, 40)
        assert n.rule_counter(Owner.POLICY, 1, IN, 1) == Counter(1, 40)
        assert n.endpoint_counters(1, Stage.NORMAL, IN)[Verdict.ALLOW] == Counter(1, 40)


def test_counters_survive_rebuilds_and_reset_when_rules_are_replaced():
    cfg = cfg_with(Tier(ingress_policies=(1,)))
    cfg.policies[1] = Policy(1, inbound=(Rule(Action.ALLOW),))
    with NativePolicy(n_workers=2) as n:
        n.apply(cfg)
        n.classify([tcp()] * 3, [1] * 3, [Stage.NORMAL] * 3, [IN] * 3, worker=0)
        n.classify([tcp()] * 2, [1] * 2, [Stage.NORMAL] * 2, [IN] * 2, worker=1)
        assert n.rule_counter(Owner.POLICY, 1, IN, 0).packets == 5
        n.build()
        assert n.rule_counter(Owner.POLICY, 1, IN, 0).packets == 5
        n.classify([tcp()], [1], [Stage.NORMAL], [IN])
        assert n.rule_counter(Owner.POLICY, 1, IN, 0).packets == 6
        assert n.endpoint_counters(1, Stage.NORMAL, IN)[Verdict.ALLOW].packets == 6
        n.policy_update(Policy(1, inbound=(Rule(Action.ALLOW),)))
        n.build()
        assert n.rule_counter(Owner.POLICY, 1, IN, 0).packets == 0


def test_policy_change_bumps_the_generation_and_changes_the_verdict():
    cfg = cfg_with(Tier(ingress_policies=(1,)))
    cfg.policies[1] = Policy(1, inbound=(Rule(Action.ALLOW),))
    with NativePolicy() as n:
        g0 = n.apply(cfg)
        assert n.classify([tcp()], [1], [Stage.NORMAL], [IN])[0][0] is Verdict.ALLOW
        n.policy_update(Policy(1, inbound=(Rule(Action.DENY),)))
        # not yet published: the old tables still answer
        assert n.classify([tcp()], [1], [Stage.NORMAL], [IN])[0][0] is Verdict.ALLOW
        assert n.build() == g0 + 1
        assert n.classify([tcp()], [1], [Stage.NORMAL], [IN])[0][0] is Verdict.DENY


def test_src_ipsets_are_all_of_and_nets_any_of():
    cfg = cfg_with(Tier(ingress_policies=(1,)))
    cfg.ipsets[1] = IPSet(
        1, IPSetType.IP, frozenset(map(ipaddress.ip_address, ["10.0.0.1", "10.0.0.3"]))
    )
    cfg.ipsets[2] = IPSet(2, IPSetType.NET, frozenset({network("10.0.0.0/31")}))
    cfg.policies[1] = Policy(
        1,
        inbound=(
            Rule(
                Action.ALLOW,
                src_ipsets=(1, 2),
                dst_net=(network("10.9.0.0/16"), network("10.0.0.2/32")),
            ),
        ),
    )
    assert run(cfg, tcp(src="10.0.0.1"))[0] is Verdict.ALLOW
    assert run(cfg, tcp(src="10.0.0.3"))[0] is Verdict.DENY  # in set 1, not in set 2
    assert run(cfg, tcp(src="10.0.0.1", dst="10.9.3.3"))[0] is Verdict.ALLOW


def test_named_ports_combine_with_numeric_ports_as_any_of():
    cfg = cfg_with(Tier(ingress_policies=(1,)))
    cfg.ipsets[5] = IPSet(
        5,
        IPSetType.IP_AND_PORT,
        frozenset({IPPortMember(ipaddress.ip_address("10.0.0.2"), 6, 8080)}),
    )
    cfg.policies[1] = Policy(
        1,
        inbound=(
            Rule(
                Action.ALLOW, protocol=6, dst_ports=(PortRange(80, 80),), dst_named_port_ipsets=(5,)
            ),
        ),
    )
    assert run(cfg, tcp(dport=80))[0] is Verdict.ALLOW
    assert run(cfg, tcp(dport=8080))[0] is Verdict.ALLOW
    assert run(cfg, tcp(dport=8081))[0] is Verdict.DENY
    assert run(cfg, tcp(dst="10.0.0.3", dport=8080))[0] is Verdict.DENY


def test_not_ports_and_not_protocol_exclude():
    cfg = cfg_with(Tier(ingress_policies=(1,)))
    cfg.policies[1] = Policy(
        1, inbound=(Rule(Action.ALLOW, not_protocol=17, not_dst_ports=(PortRange(0, 79),)),)
    )
    assert run(cfg, tcp(dport=80))[0] is Verdict.ALLOW
    assert run(cfg, tcp(dport=79))[0] is Verdict.DENY
    # ICMP has no ports: a port criterion (even negated) does not match it
    assert run(cfg, bytes(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP()))[0] is Verdict.DENY


def test_icmp_type_and_code_match_the_type_not_the_echo_identifier():
    cfg = cfg_with(Tier(ingress_policies=(1,)))
    cfg.policies[1] = Policy(
        1,
        inbound=(
            Rule(Action.ALLOW, protocol=1, icmp=IcmpMatch(8, 0)),
            Rule(Action.ALLOW, protocol=58, icmp=IcmpMatch(128)),
            Rule(Action.ALLOW, protocol=1, not_icmp=IcmpMatch(13)),
        ),
    )
    assert run(cfg, bytes(IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=8, id=8)))[1].rule == 0
    assert run(cfg, bytes(IPv6(src="::1", dst="::2") / ICMPv6EchoRequest(id=1)))[1].rule == 1
    assert run(cfg, bytes(IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=13)))[0] is Verdict.DENY
    assert run(cfg, bytes(IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=14)))[1].rule == 2


def test_rule_with_only_other_family_nets_never_matches():
    cfg = cfg_with(Tier(ingress_policies=(1,)))
    cfg.policies[1] = Policy(1, inbound=(Rule(Action.ALLOW, src_net=(network("2001:db8::/32"),)),))
    assert run(cfg, tcp())[0] is Verdict.DENY
    assert run(cfg, bytes(IPv6(src="2001:db8::1", dst="::2") / TCP()))[0] is Verdict.ALLOW


def test_host_endpoint_evaluation_points():
    cfg = cfg_with(
        Tier(ingress_policies=(1,)),
        kind=EndpointKind.HOST,
        pre_dnat_tiers=(Tier(ingress_policies=(2,)),),
        untracked_tiers=(Tier(ingress_policies=(2,), egress_policies=(2,)),),
        forward_tiers=(Tier(ingress_policies=(1,)),),
    )
    cfg.policies[1] = Policy(1, inbound=(Rule(Action.ALLOW, protocol=6),))
    cfg.policies[2] = Policy(
        2,
        inbound=(Rule(Action.DENY, dst_ports=(PortRange(22, 22),)),),
        outbound=(Rule(Action.DENY, protocol=17),),
    )
    # pre-DNAT and untracked: a miss decides nothing (later stages do); no end-of-tier drop
    assert run(cfg, tcp(), stage=Stage.PRE_DNAT) == (Verdict.NONE, Match(Reason.NO_DECISION))
    assert run(cfg, tcp(dport=22), stage=Stage.PRE_DNAT)[0] is Verdict.DENY
    assert run(cfg, tcp(), stage=Stage.PRE_DNAT, d=OUT) == (Verdict.NONE, Match(Reason.NO_DECISION))
    assert run(cfg, tcp(), stage=Stage.UNTRACKED, d=OUT)[0] is Verdict.NONE
    # forward: tiers with end-of-tier drop, no profiles
    assert run(cfg, tcp(), stage=Stage.FORWARD)[0] is Verdict.ALLOW
    assert run(cfg, bytes(IP() / UDP()), stage=Stage.FORWARD) == (
        Verdict.DENY,
        Match(Reason.TIER_DEFAULT, tier=0),
    )
    assert run(cfg, tcp(), stage=Stage.FORWARD, d=OUT) == (Verdict.NONE, Match(Reason.NO_DECISION))


def test_unknown_endpoint_has_no_verdict():
    assert run(Config(), tcp(), ep=3) == (Verdict.NONE, Match(Reason.NO_ENDPOINT))


def test_ipset_delta_adds_and_removes_members():
    cfg = cfg_with(Tier(ingress_policies=(1,)))
    cfg.ipsets[1] = IPSet(1, IPSetType.IP, frozenset())
    cfg.policies[1] = Policy(1, inbound=(Rule(Action.ALLOW, src_ipsets=(1,)),))
    a = ipaddress.ip_address("10.0.0.1")
    with NativePolicy() as n:
        n.apply(cfg)
        assert n.classify([tcp()], [1], [Stage.NORMAL], [IN])[0][0] is Verdict.DENY
        n.ipset_delta(1, add=[a, ipaddress.ip_address("10.0.0.9")])
        n.ipset_delta(1, add=[a])  # idempotent
        assert n.ipset_size(1) == 2
        n.build()
        assert n.classify([tcp()], [1], [Stage.NORMAL], [IN])[0][0] is Verdict.ALLOW
        n.ipset_delta(1, remove=[a])
        n.build()
        assert n.ipset_size(1) == 1
        assert n.classify([tcp()], [1], [Stage.NORMAL], [IN])[0][0] is Verdict.DENY


def test_large_ipset_membership_is_exact():
    members = frozenset(ipaddress.IPv4Address((11 << 24) + 7 * i) for i in range(100_000))
    cfg = cfg_with(Tier(ingress_policies=(1,)))
    cfg.ipsets[1] = IPSet(1, IPSetType.IP, members)
    cfg.policies[1] = Policy(1, inbound=(Rule(Action.ALLOW, src_ipsets=(1,)),))
    srcs = [str(ipaddress.IPv4Address((11 << 24) + k)) for k in range(0, 7000, 5)]
    with NativePolicy() as n:
        n.apply(cfg)
        got = n.classify(
            [tcp(src=s) for s in srcs],
            [1] * len(srcs),
            [Stage.NORMAL] * len(srcs),
            [IN] * len(srcs),
        )
    for s, (v, _m) in zip(srcs, got, strict=True):
        assert (v is Verdict.ALLOW) == (ipaddress.IPv4Address(s) in members)
