"""Our message classes against vpp_papi's serializer (loaded with our JSON): the same
bytes for every message, and decode(encode(x)) == x."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_vppapi_parser import EVERYTHING
from vpp_papi.vpp_papi import VPPApiJSONFiles
from vppapi_strategies import message_values

from pycontrol.vppapi import gen_json, load_text
from pycontrol.vppapi.codec import CodecError, MessageTable
from pycontrol.vppapi.model import ApiModule
from pycontrol.vppapi.registry import module

MODULES: dict[str, ApiModule] = {
    "calico_dnat": module("calico_dnat"),
    "calico_policy": module("calico_policy"),
    "everything": load_text(EVERYTHING, "everything.api", builtin_only=True),
}
TABLES = {k: MessageTable(m) for k, m in MODULES.items()}
PAPI = {k: VPPApiJSONFiles.process_json_str(gen_json.generate(m))[0] for k, m in MODULES.items()}
CASES = [(k, d.name) for k, m in MODULES.items() for d in m.messages]


def _strategy(mod: str, name: str, unions: str) -> st.SearchStrategy[Any]:
    m = MODULES[mod]
    return message_values(m, m.message(name), unions)


@pytest.mark.parametrize(("mod", "name"), CASES, ids=[n for _, n in CASES])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_encoding_is_byte_identical_to_vpp_papi(mod: str, name: str, data: st.DataObject):
    v = data.draw(_strategy(mod, name, "arm"))
    assert TABLES[mod][name].encode(v) == PAPI[mod][name].pack(v)


@pytest.mark.parametrize(("mod", "name"), CASES, ids=[n for _, n in CASES])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decode_of_encode_is_identity(mod: str, name: str, data: st.DataObject):
    v = data.draw(_strategy(mod, name, "bytes"))
    mt = TABLES[mod][name]
    assert mt.decode(mt.encode(v)) == v


def test_missing_fields_default_to_zero_as_in_vpp_papi():
    mt = TABLES["calico_dnat"]["calico_dnat_translation_update"]
    v = {"port": 80, "backends": [{"port": 1}]}
    ours = mt.encode(v)
    assert ours == PAPI["calico_dnat"]["calico_dnat_translation_update"].pack(
        {**v, "n_backends": 1}
    )
    assert mt.decode(ours)["n_backends"] == 1


def test_count_that_disagrees_with_its_array_is_an_error():
    mt = TABLES["calico_policy"]["calico_policy_policy_update"]
    with pytest.raises(CodecError, match="n_rules = 3 but 2"):
        mt.encode({"n_rules": 3, "rule_ids": [1, 2]})


def test_decode_rejects_a_length_that_does_not_match_the_count():
    mt = TABLES["calico_policy"]["calico_policy_policy_update"]
    b = mt.encode({"rule_ids": [1, 2, 3]})
    with pytest.raises(CodecError):
        mt.decode(b[:-1])
    with pytest.raises(CodecError):
        mt.decode(b + b"\0")
    with pytest.raises(CodecError):
        mt.decode(b[:5])


def test_addresses_in_every_accepted_form_encode_alike():
    mt = TABLES["calico_dnat"]["calico_dnat_node_address_add_del"]
    forms = [
        "10.0.0.1",
        __import__("ipaddress").ip_address("10.0.0.1"),
        {"af": 0, "un": {"ip4": b"\x0a\x00\x00\x01"}},
    ]
    encoded = {mt.encode({"addr": f}) for f in forms}
    assert len(encoded) == 1


def test_json_loads_in_vpp_papi_with_every_message_and_crc():
    for k in ("calico_dnat", "calico_policy"):
        j = json.loads(gen_json.generate(MODULES[k]))
        crcs = {m[0]: m[-1]["crc"] for m in j["messages"]}
        for d in MODULES[k].messages:
            assert crcs[d.name] == f"{d.crc:#010x}"
            assert PAPI[k][d.name].crc == crcs[d.name]
