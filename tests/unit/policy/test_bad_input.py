"""Bad input gets a clear error and leaves the previous state (and verdicts) intact."""

from __future__ import annotations

import ipaddress

import pytest
from scapy.layers.inet import IP, TCP

from pycontrol._native import ffi, lib
from pycontrol.policy.model import (
    Action,
    Config,
    Direction,
    Endpoint,
    IPSet,
    IPSetType,
    Policy,
    PolicyError,
    PortRange,
    Rule,
    Stage,
    Tier,
    network,
)
from pycontrol.policy.native import NativePolicy, NativePolicyError
from pycontrol.policy.reference import Verdict

pytestmark = pytest.mark.native

PKT = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80))


def _base(native: NativePolicy) -> None:
    cfg = Config()
    cfg.ipsets[1] = IPSet(1, IPSetType.IP, frozenset({ipaddress.ip_address("10.0.0.1")}))
    cfg.policies[1] = Policy(1, inbound=(Rule(Action.ALLOW, src_ipsets=(1,)),))
    cfg.endpoints[7] = Endpoint(7, tiers=(Tier(ingress_policies=(1,)),))
    native.apply(cfg)


def _verdict(native: NativePolicy) -> Verdict:
    return native.classify([PKT], [7], [Stage.NORMAL], [Direction.INGRESS])[0][0]


@pytest.fixture
def native():
    with NativePolicy(max_ipset_members=4, max_list=8) as n:
        _base(n)
        assert _verdict(n) is Verdict.ALLOW
        yield n


def _unchanged(native: NativePolicy, gen: int) -> None:
    native.build()
    assert native.generation == gen + 1
    assert _verdict(native) is Verdict.ALLOW
    assert native.ipset_size(1) == 1


def test_rule_naming_an_unknown_ipset_is_refused(native):
    gen = native.generation
    with pytest.raises(NativePolicyError, match="unknown ipset 9") as e:
        native.policy_update(Policy(1, inbound=(Rule(Action.DENY, src_ipsets=(9,)),)))
    assert e.value.code == lib.CP_POLICY_E_NOENT
    _unchanged(native, gen)


def test_tier_naming_an_unknown_policy_is_refused(native):
    gen = native.generation
    with pytest.raises(NativePolicyError, match="unknown policy 5"):
        native.endpoint_update(Endpoint(7, tiers=(Tier(ingress_policies=(5,)),)))
    _unchanged(native, gen)


def test_duplicate_policy_in_a_tier_is_refused(native):
    gen = native.generation
    with pytest.raises(NativePolicyError, match="listed twice") as e:
        native.endpoint_update(Endpoint(7, tiers=(Tier(ingress_policies=(1, 1)),)))
    assert e.value.code == lib.CP_POLICY_E_EXIST
    _unchanged(native, gen)


def test_removing_a_referenced_ipset_or_policy_is_refused(native):
    gen = native.generation
    with pytest.raises(NativePolicyError, match="still referenced") as e:
        native.ipset_remove(1)
    assert e.value.code == lib.CP_POLICY_E_BUSY
    with pytest.raises(NativePolicyError, match="still referenced by endpoint 7"):
        native.policy_remove(1)
    _unchanged(native, gen)


def test_unknown_ids_on_remove_and_delta_are_refused(native):
    gen = native.generation
    for call in (
        lambda: native.ipset_remove(42),
        lambda: native.policy_remove(42),
        lambda: native.profile_remove(42),
        lambda: native.endpoint_remove(42),
        lambda: native.ipset_delta(42, add=[ipaddress.ip_address("1.1.1.1")]),
    ):
        with pytest.raises(NativePolicyError) as e:
            call()
        assert e.value.code == lib.CP_POLICY_E_NOENT
    _unchanged(native, gen)


def test_oversized_ipset_is_refused_and_the_old_members_stay(native):
    gen = native.generation
    big = frozenset(ipaddress.ip_address(f"10.1.0.{i}") for i in range(5))
    with pytest.raises(NativePolicyError, match="over the limit") as e:
        native.ipset_update(IPSet(1, IPSetType.IP, big))
    assert e.value.code == lib.CP_POLICY_E_TOOBIG
    with pytest.raises(NativePolicyError):
        native.ipset_delta(1, add=list(big))
    _unchanged(native, gen)


def test_oversized_list_is_refused(native):
    gen = native.generation
    ports = tuple(PortRange(p, p) for p in range(9))
    with pytest.raises(NativePolicyError, match="over the limit"):
        native.policy_update(Policy(1, inbound=(Rule(Action.DENY, dst_ports=ports),)))
    _unchanged(native, gen)


def test_model_refuses_bad_values_before_the_dataplane():
    with pytest.raises(PolicyError, match="inverted"):
        PortRange(90, 80)
    with pytest.raises(PolicyError, match="host bits"):
        network("10.0.0.1/24")
    with pytest.raises(PolicyError, match="IPv6 CIDR"):
        Rule(Action.ALLOW, ip_version=4, src_net=(network("2001:db8::/32"),))
    with pytest.raises(PolicyError, match="does not belong"):
        IPSet(1, IPSetType.IP, frozenset({network("10.0.0.0/8")}))


def _raw_rule(**fields):
    keep = []
    r = ffi.new("cp_policy_rule_t *")
    r.action = lib.CP_POLICY_ACTION_ALLOW
    for k, v in fields.items():
        if k in ("src_net", "dst_ports"):
            arr = ffi.new("cp_policy_cidr_t[]" if k == "src_net" else "cp_policy_port_range_t[]", 1)
            if k == "src_net":
                ffi.memmove(arr[0].addr.b, v[0], len(v[0]))
                arr[0].af, arr[0].len = v[1], v[2]
            else:
                arr[0].first, arr[0].last = v
            keep.append(arr)
            getattr(r, k).v = arr
            getattr(r, k).n = 1
        else:
            setattr(r, k, v)
    return r, keep


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"dst_ports": (90, 80)}, lib.CP_POLICY_E_RANGE),
        ({"src_net": (bytes([10, 0, 0, 1]), 4, 24)}, lib.CP_POLICY_E_HOSTBITS),
        ({"src_net": (bytes(16), 6, 0), "ip_version": 4}, lib.CP_POLICY_E_FAMILY),
        ({"src_net": (bytes([10, 0, 0, 0]), 4, 33)}, lib.CP_POLICY_E_INVAL),
        ({"action": 9}, lib.CP_POLICY_E_INVAL),
    ],
    ids=[
        "inverted-port-range",
        "cidr-host-bits",
        "family-mismatch",
        "prefix-too-long",
        "bad-action",
    ],
)
def test_c_core_validates_rules_itself(native, fields, code):
    """The C API is called by other code than this wrapper (the API handlers): it checks too."""
    gen = native.generation
    r, _keep = _raw_rule(**fields)
    rc = lib.cp_policy_policy_update(native.handle, 1, r, 1, ffi.NULL, 0)
    assert rc == code
    assert ffi.string(lib.cp_policy_last_error(native.handle))
    _unchanged(native, gen)


def test_ipset_member_with_host_bits_is_refused_by_the_core(native):
    gen = native.generation
    m = ffi.new("cp_policy_member_t[]", 1)
    ffi.memmove(m[0].addr.b, bytes([10, 0, 0, 1]), 4)
    m[0].af, m[0].len = 4, 8
    assert lib.cp_policy_ipset_update(native.handle, 1, 2, m, 1) == lib.CP_POLICY_E_HOSTBITS
    _unchanged(native, gen)
