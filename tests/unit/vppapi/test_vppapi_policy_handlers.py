"""calico_policy's C handlers driven in process: bulk ipsets (100k members), the object
graph (ipset <- rule <- policy/profile <- tier <- endpoint) with dumps and publish, and
bad or mutated requests rejected without any change."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pycontrol.vppapi import registry
from pycontrol.vppapi.client import ApiCallError, PluginClient
from pycontrol.vppapi.plugins import IPSET_IP, IPSET_NET, Member, PolicyApi
from pycontrol.vppapi.transport import POLICY, InProcessTransport

pytestmark = pytest.mark.native

net = ipaddress.ip_network
DUMPS = (
    "calico_policy_interface_dump",
    ("calico_policy_ipset_member_dump", 1),
    "calico_policy_ipset_dump",
    "calico_policy_rule_dump",
    "calico_policy_policy_dump",
    "calico_policy_profile_dump",
    "calico_policy_tier_dump",
    "calico_policy_endpoint_dump",
)


@pytest.fixture
def client() -> Iterator[PluginClient]:
    with InProcessTransport(POLICY, registry.table("calico_policy")) as t:
        yield PluginClient(t, registry.table("calico_policy"))


def snapshot(c: PluginClient) -> list[list[dict[str, Any]]]:
    out = []
    for d in DUMPS:
        rows = c.dump(d[0], ipset_id=d[1]) if isinstance(d, tuple) else c.dump(d)
        for r in rows:
            r.pop("context", None)
        out.append(rows)
    return out


def rule(rid: int, ipset: int) -> dict[str, Any]:
    return {
        "id": rid,
        "action": 1,
        "ip_version": 4,
        "has_protocol": True,
        "protocol": 6,
        "matches": [
            {"kind": 10, "value": {"ipset_id": ipset}},
            {"kind": 6, "value": {"ports": {"first": 80, "last": 89}}},
            {"kind": 0, "value": {"prefix": net("10.0.0.0/8")}},
        ],
    }


def graph(c: PluginClient) -> None:
    PolicyApi(c).ipset_update(1, IPSET_IP, [Member(net(f"10.1.0.{i}/32")) for i in range(10)])
    c.call("calico_policy_rule_update", **rule(10, 1))
    c.call("calico_policy_policy_update", id=100, n_ingress=1, rule_ids=[10, 10])
    c.call("calico_policy_profile_update", id=200, n_ingress=1, rule_ids=[10])
    c.call("calico_policy_tier_update", id=1000, default_action=2, n_ingress=1, policy_ids=[100])
    c.call("calico_policy_endpoint_update", sw_if_index=5, kind=0, n_tiers=1, ids=[1000, 200])


def test_100k_ipset_members_are_programmed_in_bulk(client: PluginClient):
    api = PolicyApi(client)
    members = [Member(net((0x0A000000 + i, 32))) for i in range(100_000)]
    api.ipset_update(7, IPSET_IP, members)
    (d,) = client.dump("calico_policy_ipset_dump")
    assert (d["id"], d["type"], d["n_members"]) == (7, IPSET_IP, 100_000)
    api.ipset_members_add(7, members[:10])  # adding present members is not an error
    assert client.dump("calico_policy_ipset_dump")[0]["n_members"] == 100_000
    chunks = client.dump("calico_policy_ipset_member_dump", ipset_id=7)
    assert len(chunks) == 98  # 1024 per details message
    got = [m["prefix"] for c in chunks for m in c["members"]]
    assert got == sorted(m.prefix for m in members)


def test_member_dump_follows_adds_and_removes(client: PluginClient):
    api = PolicyApi(client)
    api.ipset_update(3, IPSET_NET, [Member(net("10.0.0.0/8")), Member(net("10.0.0.0/8"))])
    api.ipset_members_add(3, [Member(net("192.168.0.0/16")), Member(net("172.16.0.0/12"))])
    client.call(
        "calico_policy_ipset_member_add_del",
        ipset_id=3,
        is_add=False,
        members=[{"prefix": net("10.0.0.0/8")}, {"prefix": net("1.0.0.0/8")}],
    )
    (d,) = client.dump("calico_policy_ipset_member_dump", ipset_id=3)
    assert [m["prefix"] for m in d["members"]] == [net("172.16.0.0/12"), net("192.168.0.0/16")]
    assert client.dump("calico_policy_ipset_member_dump", ipset_id=99) == []
    api.ipset_update(4, IPSET_IP, [])
    (empty,) = client.dump("calico_policy_ipset_member_dump", ipset_id=4)
    assert empty["n_members"] == 0


def test_object_graph_is_dumped_back_and_published(client: PluginClient):
    graph(client)
    gen = PolicyApi(client).publish()
    assert gen >= 1
    (r,) = client.dump("calico_policy_rule_dump")
    assert r["id"] == 10
    assert [m["kind"] for m in r["matches"]] == [10, 6, 0]
    (p,) = client.dump("calico_policy_policy_dump")
    assert (p["id"], p["n_ingress"], p["rule_ids"]) == (100, 1, [10, 10])
    (t,) = client.dump("calico_policy_tier_dump")
    assert (t["id"], t["default_action"], t["policy_ids"]) == (1000, 2, [100])
    (e,) = client.dump("calico_policy_endpoint_dump")
    assert (e["sw_if_index"], e["n_tiers"], e["ids"]) == (5, 1, [1000, 200])
    counters = client.dump("calico_policy_rule_counters_dump", rule_id=0xFFFFFFFF)
    assert [(c["rule_id"], c["packets"]) for c in counters] == [(10, 0)]


@pytest.mark.parametrize(
    ("name", "values", "retval"),
    [
        ("calico_policy_rule_update", {**rule(11, 1), "action": 9}, -7),
        ("calico_policy_rule_update", {**rule(11, 1), "ip_version": 5}, -7),
        ("calico_policy_rule_update", {**rule(11, 99)}, -6),
        (
            "calico_policy_rule_update",
            {**rule(11, 1), "matches": [{"kind": 0, "value": {"prefix": net("fd00::/8")}}]},
            -97,
        ),
        (
            "calico_policy_rule_update",
            {**rule(11, 1), "matches": [{"kind": 4, "value": {"ports": {"first": 9, "last": 1}}}]},
            -8,
        ),
        (
            "calico_policy_rule_update",
            {**rule(11, 1), "matches": [{"kind": 17, "value": {"ipset_id": 1}}]},
            -7,
        ),
        ("calico_policy_policy_update", {"id": 101, "n_ingress": 3, "rule_ids": [10]}, -7),
        ("calico_policy_policy_update", {"id": 101, "rule_ids": [10, 12]}, -6),
        ("calico_policy_tier_update", {"id": 1001, "default_action": 1, "policy_ids": [100]}, -7),
        (
            "calico_policy_endpoint_update",
            {"sw_if_index": 6, "kind": 0, "n_tiers": 3, "ids": [1000]},
            -7,
        ),
        ("calico_policy_endpoint_update", {"sw_if_index": 6, "kind": 2, "ids": []}, -7),
        (
            "calico_policy_endpoint_update",
            {"sw_if_index": 6, "kind": 0, "n_tiers": 1, "n_forward_tiers": 1, "ids": [1000, 1000]},
            -8,
        ),
        (
            "calico_policy_ipset_update",
            {"id": 3, "type": 0, "members": [{"prefix": net("10.0.0.0/8")}]},
            -7,
        ),
        (
            "calico_policy_ipset_update",
            {"id": 3, "type": 1, "members": [{"prefix": net("10.0.0.1/32"), "proto": 1}]},
            -153,
        ),
        ("calico_policy_ipset_member_add_del", {"ipset_id": 42, "is_add": True, "members": []}, -6),
        ("calico_policy_ipset_delete", {"id": 1}, -147),
        ("calico_policy_rule_delete", {"id": 10}, -147),
        ("calico_policy_policy_delete", {"id": 100}, -147),
        ("calico_policy_tier_delete", {"id": 1000}, -147),
        ("calico_policy_profile_delete", {"id": 200}, -147),
        ("calico_policy_endpoint_delete", {"sw_if_index": 77}, -6),
    ],
)
def test_bad_requests_get_an_error_reply_and_change_nothing(client, name, values, retval):
    graph(client)
    before = snapshot(client)
    assert client.try_call(name, **values) == retval
    assert snapshot(client) == before


def test_ipset_members_in_bulk_are_all_or_nothing(client: PluginClient):
    PolicyApi(client).ipset_update(2, IPSET_NET, [])
    good = [{"prefix": net(f"10.{i}.0.0/16")} for i in range(100)]
    bad = [*good, {"prefix": {"address": ipaddress.ip_address("10.0.0.1"), "len": 8}}]
    with pytest.raises(ApiCallError) as e:
        client.call("calico_policy_ipset_member_add_del", ipset_id=2, is_add=True, members=bad)
    assert e.value.retval == -8  # host bits set
    assert client.dump("calico_policy_ipset_dump")[0]["n_members"] == 0


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6))
def test_mutated_requests_never_change_state_when_rejected(seed: int, n: int):
    rnd = random.Random(seed)
    table = registry.table("calico_policy")
    with InProcessTransport(POLICY, table) as t:
        c = PluginClient(t, table)
        graph(c)
        samples = {
            "calico_policy_rule_update": rule(10, 1),
            "calico_policy_policy_update": {"id": 100, "n_ingress": 1, "rule_ids": [10]},
            "calico_policy_tier_update": {"id": 1000, "default_action": 3, "policy_ids": [100]},
            "calico_policy_endpoint_update": {"sw_if_index": 5, "n_tiers": 1, "ids": [1000]},
            "calico_policy_ipset_member_add_del": {
                "ipset_id": 1,
                "is_add": True,
                "members": [{"prefix": net("10.9.0.1/32")}],
            },
        }
        names = [m.name for m in table if not m.name.endswith(("_reply", "_details"))]
        for _ in range(n):
            name = rnd.choice(names)
            msg = bytearray(c.encode(name, samples.get(name, {}), 4321))
            for _ in range(rnd.randrange(1, 4)):
                op = rnd.randrange(3)
                if op == 0 and len(msg) > 2:
                    msg[rnd.randrange(2, len(msg))] = rnd.randrange(256)
                elif op == 1:
                    del msg[rnd.randrange(2, len(msg) + 1) :]
                else:
                    msg += rnd.randbytes(rnd.randrange(1, 30))
            before = snapshot(c)
            replies = t.exchange([bytes(msg)])
            rejected = not replies
            if replies and not name.endswith("_dump"):
                rejected = c.decode(replies[0]).values["retval"] != 0
            if rejected:
                assert snapshot(c) == before
