"""The .api parser: every construct plugins use, vppapigen's JSON and CRCs, and
malformed files failing with file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vpp_papi.vpp_papi import VPPApiJSONFiles

from pycontrol.vppapi import ApiError, gen_json, load, load_text
from pycontrol.vppapi.__main__ import main
from pycontrol.vppapi.builtin import BUILTIN_IMPORTS
from pycontrol.vppapi.registry import api_file

EVERYTHING = """\
/* a file using every construct */
option version = "2.1.3";
import "vnet/ip/ip_types.api";
import "vnet/interface_types.api";

typedef u8 mac[6];
enum colour : u16 {
  RED = 1,
  GREEN,
  BLUE = 0x10,
};
enumflag bits : u8 {
  BIT_A = 1,
  BIT_B = 2,
};
enum plain {
  P0,
  P1,
};
union either {
  u32 number;
  vl_api_mac_t mac;
};
/** \\brief a typedef with a comment */
typedef pair {
  u16 a [default=7];
  vl_api_colour_t c;
};
manual_print define thing_add {
  u32 client_index;
  u32 context;
  string tag[64];
  vl_api_bits_t bits;
  vl_api_either_t e;
  vl_api_pair_t pairs[3];
  vl_api_prefix_t p;
  vl_api_interface_index_t sw_if_index;
  u32 n;
  vl_api_pair_t list[n];
};
autoreply define thing_del {
  u32 client_index;
  u32 context;
  option deprecated;
  u32 id;
};
define thing_add_reply {
  u32 context;
  i32 retval;
};
define thing_dump {
  u32 client_index;
  u32 context;
};
define thing_details {
  u32 context;
  string name[];
};
define want_events {
  u32 client_index;
  u32 context;
};
define want_events_reply {
  u32 context;
  i32 retval;
};
define an_event {
  u32 client_index;
  u32 pid;
};
service {
  rpc want_events returns want_events_reply events an_event;
};
counters thing {
  drops {
    severity error;
    type counter64;
    units "packets";
    description "dropped";
  };
};
paths {
  "/thing" "thing";
};
"""


def test_every_construct_parses_and_loads_in_vpp_papi():
    m = load_text(EVERYTHING, "everything.api", builtin_only=True)
    names = [d.name for d in m.messages]
    assert names[:3] == ["thing_add", "thing_del", "thing_del_reply"]
    assert m.message("thing_del").options == {"deprecated": None}
    assert m.message("thing_del_reply").options == {"deprecated": None}
    j = json.loads(gen_json.generate(m))
    assert j["options"] == {"version": "2.1.3"}
    assert j["services"]["thing_dump"] == {"reply": "thing_details", "stream": True}
    assert j["services"]["want_events"] == {"reply": "want_events_reply", "events": ["an_event"]}
    assert ["BLUE", 16] in next(e for e in j["enums"] if e[0] == "colour")
    assert j["enumflags"][0][-1] == {"enumtype": "u8"}
    assert j["aliases"]["mac"] == {"type": "u8", "length": 6}
    pair = next(t for t in j["types"] if t[0] == "pair")
    assert pair[1] == ["u16", "a", {"default": 7}]
    assert pair[-1] == {"comment": "/** \\brief a typedef with a comment */"}
    assert j["counters"][0]["elements"][0]["units"] == "packets"
    assert j["paths"] == [[{"path": "/thing", "counter": "thing"}]]
    msgs, _ = VPPApiJSONFiles.process_json_str(json.dumps(j))
    assert "thing_add" in msgs


def test_message_crcs_match_vppapigen():
    # vppapigen 26.x on calico_dnat.api / calico_policy.api (see docs/api.md): the CRCs
    # VPP's message table will carry for these messages
    m = load(api_file("calico_dnat"), builtin_only=True)
    crcs = {d.name: f"{d.crc:08x}" for d in m.messages}
    assert crcs["calico_dnat_get_version"] == "51077d14"
    assert crcs["calico_dnat_get_version_reply"] == "52bf7795"
    # a message with no fields but the header has the CRC of VPP's control_ping
    assert crcs["calico_dnat_translation_dump"] == "51077d14"
    assert crcs["calico_dnat_translation_del_reply"] == "e8d4e804"


def test_builtin_imports_give_the_same_messages_as_vpp_files(tmp_path: Path):
    # a minimal stand-in for VPP's ip_types.api written the way VPP writes it: the
    # message layouts and CRCs must not depend on where the types came from
    inc = tmp_path / "vnet" / "ip"
    inc.mkdir(parents=True)
    (inc / "ip_types.api").write_text(BUILTIN_IMPORTS["vnet/ip/ip_types.api"])
    (tmp_path / "vnet" / "interface_types.api").write_text(
        BUILTIN_IMPORTS["vnet/interface_types.api"]
    )
    a = load(api_file("calico_policy"), include_dirs=[str(tmp_path)])
    b = load(api_file("calico_policy"), builtin_only=True)
    assert [(d.name, d.crc) for d in a.messages] == [(d.name, d.crc) for d in b.messages]


BAD = [
    ("define foo {\n  u32 context;\n  vl_api_nope_t x;\n};\n", 3, "undefined type"),
    ("define foo {\n  u32 context;\n  u32 list[count];\n};\n", 3, "missing length field"),
    ("define foo {\n  u32 n;\n  u32 list[n];\n  u32 after;\n};\n", 3, "must be last"),
    ("enumflag f : u8 {\n  A = 1,\n  B = 3,\n};\n", 3, "not a flag enum"),
    ("enum e : u64 {\n  A,\n};\n", 1, "enum size"),
    ("enum e {\n  A = 1\n};\n", 3, "expected ','"),
    ("typedef t {\n  u32 a;\n}\n", 4, "expected ';'"),
    ("define foo {\n  string s;\n};\n", 2, "must be an array"),
    ("define foo {\n  u32 class;\n};\n", 2, "Python keyword"),
    ("\n\ndefine foo {\n  u32 a;\n  u32 a;\n};\n", 5, "duplicate field"),
    ("typedef t {\n  u8 a;\n};\ntypedef t {\n  u8 b;\n};\n", 4, "redefinition"),
    ('option version = "1.0.0";\n@\n', 2, "illegal character"),
    ("/* never closed\n", 1, "unterminated comment"),
    ('import "vnet/nope.api";\n', 1, "import not found"),
    ("define foo_dump {\n  u32 context;\n};\n", 1, "no details message"),
    ("define foo {\n  u32 context;\n};\n", 1, "no reply message"),
    ("service {\n  rpc foo returns foo;\n};\n", 2, "should not be equal"),
    ("define foo {\n  u32 a;\n", 3, "unterminated block"),
]


@pytest.mark.parametrize(("text", "line", "msg"), BAD)
def test_malformed_api_fails_with_file_and_line(text: str, line: int, msg: str):
    with pytest.raises(ApiError) as e:
        load_text(text, "bad.api", builtin_only=True)
    assert e.value.file == "bad.api"
    assert e.value.line == line, str(e.value)
    assert msg in e.value.message
    assert str(e.value).startswith(f"bad.api:{line}: ")


def test_cli_reports_file_and_line_and_exit_status(tmp_path: Path):
    bad = tmp_path / "x.api"
    bad.write_text('option version = "1.0.0";\ndefine a {\n  u32 context;\n  bogus_t b;\n};\n')
    assert main([str(bad), "--json", str(tmp_path / "x.json")]) == 1
    assert not (tmp_path / "x.json").exists()
    good = api_file("calico_dnat")
    out = tmp_path / "d.json"
    assert main([str(good), "--json", str(out), "--builtin-only"]) == 0
    assert json.loads(out.read_text())["module"] == "calico_dnat"
