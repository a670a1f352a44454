"""calico_dnat's C handlers driven in process with the generated message classes: good
requests are applied and dumped back; malformed or mutated ones are rejected with an
error reply (or no reply) and leave every dump unchanged."""

from __future__ import annotations

import ipaddress
import random
import struct
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP

from pycontrol._native import ffi, lib
from pycontrol.vppapi import registry
from pycontrol.vppapi.client import ApiCallError, PluginClient
from pycontrol.vppapi.plugins import Backend, DnatApi, Translation
from pycontrol.vppapi.transport import DNAT, InProcessTransport

pytestmark = pytest.mark.native

ip = ipaddress.ip_address
DUMPS = (
    "calico_dnat_interface_dump",
    "calico_dnat_translation_dump",
    "calico_dnat_node_address_dump",
    "calico_dnat_snat_address_dump",
    "calico_dnat_snat_prefix_dump",
)


@pytest.fixture
def client() -> Iterator[PluginClient]:
    with InProcessTransport(DNAT, registry.table("calico_dnat")) as t:
        yield PluginClient(t, registry.table("calico_dnat"))


def snapshot(c: PluginClient) -> list[list[dict[str, object]]]:
    out = []
    for d in DUMPS:
        rows = c.dump(d)
        for r in rows:
            r.pop("context", None)
        out.append(rows)
    return out


def translation(i: int, n: int = 10, v6: bool = False) -> Translation:
    if v6:
        vip = ipaddress.IPv6Address(0xFD00 << 112 | i)
        bes = tuple(
            Backend(ipaddress.IPv6Address(0xFD01 << 112 | i << 8 | j), 8443) for j in range(n)
        )
        return Translation(vip, 443, 6, bes, hash_fields=31, affinity_timeout_s=10800)
    vip = ipaddress.IPv4Address(0x0A600000 + i)
    bes = tuple(
        Backend(ipaddress.IPv4Address(0x0A010000 + i * 16 + j), 8080, weight=1 + j % 3, flags=j % 2)
        for j in range(n)
    )
    return Translation(vip, 80, 6, bes, hash_fields=31, affinity_timeout_s=10800)


def test_translations_programmed_in_bulk_are_dumped_back(client: PluginClient):
    api = DnatApi(client)
    ts = [translation(i) for i in range(300)] + [translation(i, 3, v6=True) for i in range(20)]
    ids = api.translations_update(ts)
    assert len(set(ids)) == len(ts)
    got = api.translations()
    assert {i: got[i] for i in ids} == dict(zip(ids, ts, strict=True))


def test_10k_translations_are_programmed_with_every_reply_checked():
    table = registry.table("calico_dnat")
    limits = {"max_translations": 16384, "max_backends": 65536}
    with InProcessTransport(DNAT, table, limits=limits) as t:
        api = DnatApi(PluginClient(t, table))
        ts = [translation(i, 4) for i in range(10_000)]
        ids = api.translations_update(ts)
        assert len(set(ids)) == 10_000
        got = api.translations()
        assert len(got) == 10_000
        assert got[ids[9_999]] == ts[9_999]


def test_update_of_an_existing_key_keeps_its_id(client: PluginClient):
    api = DnatApi(client)
    (first,) = api.translations_update([translation(1, 4)])
    (again,) = api.translations_update([translation(1, 7)])
    assert again == first
    assert len(api.translations()[first].backends) == 7


def test_get_version_reports_the_api_version(client: PluginClient):
    r = client.call("calico_dnat_get_version")
    assert (r.values["major"], r.values["minor"]) == (1, 0)


@pytest.mark.parametrize(
    ("change", "retval"),
    [
        ({"vip": {"af": 2, "un": b""}}, -97),
        ({"kind": 9}, -7),
        ({"proto": 1}, -153),
        ({"port": 0}, -7),
        ({"flags": 0x80}, -7),
        ({"hash_fields": 0x40}, -7),
        ({"backends": [{"addr": ip("fd00::1"), "port": 80, "weight": 1}]}, -97),
        ({"backends": [{"addr": ip("10.0.0.1"), "port": 80, "weight": 1, "flags": 8}]}, -7),
    ],
)
def test_bad_values_get_an_error_reply_and_change_nothing(client, change, retval):
    DnatApi(client).translations_update([translation(1)])
    before = snapshot(client)
    v = {**translation(2).values(), **change}
    v["n_backends"] = len(v["backends"])
    assert client.try_call("calico_dnat_translation_update", **v) == retval
    assert snapshot(client) == before


def test_a_wrong_count_or_length_gets_an_error_reply_and_changes_nothing(client: PluginClient):
    before = snapshot(client)
    mt = client.table["calico_dnat_translation_update"]
    good = client.encode("calico_dnat_translation_update", translation(1, 3).values(), 99)
    bad_count = bytearray(good)
    off = mt.fixed_size - 4
    struct.pack_into(">I", bad_count, off, 4)  # says 4, carries 3
    for msg in (bytes(bad_count), good[:-1], good + b"\0", good[:20]):
        (reply,) = client.t.exchange([msg])
        rep = client.decode(reply)
        assert rep.name == "calico_dnat_translation_update_reply"
        assert rep.values["retval"] == -73
        assert rep.values["context"] == 99
    assert snapshot(client) == before


def test_unknown_ids_and_truncated_headers_get_no_reply(client: PluginClient):
    t = client.t
    unknown = struct.pack(">HII", 60000, 0, 5)
    reply_id = struct.pack(
        ">HII", t.msg_id(client.table["calico_dnat_get_version_reply"].name_crc), 0, 6
    )
    assert t.exchange([unknown, reply_id, b"\x04"]) == []


def test_errors_name_the_request_that_failed(client: PluginClient):
    ts = [translation(i).values() for i in range(5)]
    ts[3]["proto"] = 2
    with pytest.raises(ApiCallError) as e:
        client.call_many("calico_dnat_translation_update", ts)
    assert e.value.index == 3
    assert e.value.retval == -153


def test_snat_node_addresses_and_interfaces_round_trip(client: PluginClient):
    client.call("calico_dnat_snat_address_set", is_set=True, addr=ip("192.168.0.1"))
    client.call("calico_dnat_snat_address_set", is_set=True, addr=ip("fd00::1"))
    client.call("calico_dnat_node_address_add_del", is_add=True, addr=ip("192.168.0.1"))
    client.call(
        "calico_dnat_snat_prefix_add_del",
        is_add=True,
        kind=1,
        prefix=ipaddress.ip_network("10.96.0.0/12"),
    )
    client.call("calico_dnat_interface_enable_disable", sw_if_index=7, is_enable=True)
    assert [d["addr"] for d in client.dump("calico_dnat_snat_address_dump")] == [
        ip("192.168.0.1"),
        ip("fd00::1"),
    ]
    assert [d["addr"] for d in client.dump("calico_dnat_node_address_dump")] == [ip("192.168.0.1")]
    pfx = client.dump("calico_dnat_snat_prefix_dump")
    assert [(p["kind"], p["prefix"]) for p in pfx] == [(1, ipaddress.ip_network("10.96.0.0/12"))]
    assert [d["sw_if_index"] for d in client.dump("calico_dnat_interface_dump")] == [7]
    assert (
        client.try_call("calico_dnat_interface_enable_disable", sw_if_index=7, is_enable=True)
        == -116
    )
    # the pod role, set and cleared on the enabled interface
    client.call("calico_dnat_interface_enable_disable", sw_if_index=7, is_enable=True, is_pod=True)
    client.call("calico_dnat_interface_enable_disable", sw_if_index=9, is_enable=True)
    assert [(d["sw_if_index"], d["is_pod"]) for d in client.dump("calico_dnat_interface_dump")] == [
        (7, True),
        (9, False),
    ]
    client.call("calico_dnat_interface_enable_disable", sw_if_index=7, is_enable=True)
    assert [d["is_pod"] for d in client.dump("calico_dnat_interface_dump")] == [False, False]
    client.call("calico_dnat_snat_address_set", is_set=False, addr=ip("0.0.0.0"))
    assert len(client.dump("calico_dnat_snat_address_dump")) == 1


def test_session_purge_and_filtered_dump_answer_with_no_sessions(client: PluginClient):
    assert client.call("calico_dnat_session_purge").values["n_purged"] == 0
    assert client.dump("calico_dnat_session_dump", filter=2, proto=6) == []


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 8))
def test_mutated_requests_never_change_state_when_rejected(seed: int, n: int):
    rnd = random.Random(seed)
    table = registry.table("calico_dnat")
    with InProcessTransport(DNAT, table) as t:
        c = PluginClient(t, table)
        DnatApi(c).translations_update([translation(1, 2)])
        names = [m.name for m in table if not m.name.endswith(("_reply", "_details"))]
        for _ in range(n):
            name = rnd.choice(names)
            v = (
                translation(rnd.randrange(4), rnd.randrange(4)).values()
                if "translation_update" in name
                else {}
            )
            msg = bytearray(c.encode(name, v, 1234))
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


def test_sessions_created_by_packets_are_dumped_filtered_and_purged(client: PluginClient):
    api = DnatApi(client)
    (tid,) = api.translations_update([translation(1, 1)])
    (other,) = api.translations_update([translation(2, 1)])
    t = api.translations()[tid]
    core = client.t.core  # type: ignore[attr-defined]
    pkt = bytes(IP(src="172.16.0.9", dst=str(t.vip)) / TCP(sport=40000, dport=t.port, flags="S"))
    buf = ffi.new("uint8_t[]", pkt)
    data = ffi.new("uint8_t *[]", [buf])
    lens = ffi.new("uint32_t[]", [len(pkt)])
    res = ffi.new("cdn_result_t[]", 1)
    assert lib.cdn_process_burst(core, 0, data, lens, ffi.NULL, 1, 1000, res) == 1
    out = IP(bytes(ffi.buffer(buf, len(pkt))))
    assert out.dst == str(t.backends[0].addr)
    # the rewritten packet's checksums are valid
    recomputed = IP(bytes(out))
    del recomputed.chksum
    del recomputed[TCP].chksum
    recomputed = IP(bytes(recomputed))
    assert (recomputed.chksum, recomputed[TCP].chksum) == (out.chksum, out[TCP].chksum)

    (s,) = client.dump("calico_dnat_session_dump")
    assert (s["client"], s["client_port"]) == (ip("172.16.0.9"), 40000)
    assert (s["vip"], s["vip_port"], s["proto"]) == (t.vip, t.port, 6)
    assert (s["backend"], s["backend_port"]) == (t.backends[0].addr, t.backends[0].port)
    assert len(client.dump("calico_dnat_session_dump", filter=4, translation_id=tid)) == 1
    assert client.dump("calico_dnat_session_dump", filter=4, translation_id=other) == []
    assert client.dump("calico_dnat_session_dump", filter=2, proto=17) == []
    assert len(client.dump("calico_dnat_session_dump", filter=8, address=ip("172.16.0.9"))) == 1
    assert client.dump("calico_dnat_session_dump", filter=1, af=1) == []
    # an unknown translation in the filter: no details, no reply (as VPP for a bad dump)
    assert client.dump("calico_dnat_session_dump", filter=4, translation_id=999) == []
    assert client.call("calico_dnat_session_purge").values["n_purged"] == 1
    assert client.dump("calico_dnat_session_dump") == []


def test_purge_with_a_translation_filter_removes_exactly_that_services_sessions(
    client: PluginClient,
):
    api = DnatApi(client)
    tids = api.translations_update([translation(1, 2), translation(2, 2)])
    xl = api.translations()
    core = client.t.core  # type: ignore[attr-defined]
    pkts = []
    for k, tid in enumerate(tids):
        t = xl[tid]
        for c in range(3):
            pkts.append(
                bytes(
                    IP(src=f"172.16.{k}.{c + 1}", dst=str(t.vip))
                    / TCP(sport=41000 + c, dport=t.port, flags="S")
                )
            )
    bufs = [ffi.new("uint8_t[]", p) for p in pkts]
    data = ffi.new("uint8_t *[]", bufs)
    lens = ffi.new("uint32_t[]", [len(p) for p in pkts])
    res = ffi.new("cdn_result_t[]", len(pkts))
    assert lib.cdn_process_burst(core, 0, data, lens, ffi.NULL, len(pkts), 1000, res) == 6
    assert len(client.dump("calico_dnat_session_dump")) == 6
    # a filter naming an unknown translation is refused and removes nothing
    assert client.try_call("calico_dnat_session_purge", filter=4, translation_id=999) == -6
    assert len(client.dump("calico_dnat_session_dump")) == 6
    r = client.call("calico_dnat_session_purge", filter=4, translation_id=tids[0])
    assert r.values["n_purged"] == 3
    left = client.dump("calico_dnat_session_dump")
    assert {s["vip"] for s in left} == {xl[tids[1]].vip}
    assert len(left) == 3
    # by address: one client's flow only
    r = client.call("calico_dnat_session_purge", filter=8, address=ip("172.16.1.2"))
    assert r.values["n_purged"] == 1
    assert len(client.dump("calico_dnat_session_dump")) == 2
    assert client.call("calico_dnat_session_purge").values["n_purged"] == 2
