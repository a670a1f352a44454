"""One layout everywhere: the Python codecs, the cffi cdefs and the C headers (whose
_Static_asserts pin sizes and offsets when the handlers compile) agree; with VPP's dev
files installed, so do vppapigen's JSON and headers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pycontrol.vppapi import gen_c, gen_cdef, gen_json, load
from pycontrol.vppapi.layout import message_layout
from pycontrol.vppapi.registry import PLUGINS, api_file, module, table


@pytest.mark.parametrize("name", PLUGINS)
def test_cffi_cdef_layout_equals_the_codec_layout(name: str):
    m = module(name)
    ffi = gen_cdef.cdef_ffi(m)
    for d in m.messages:
        lay = message_layout(m, d)
        assert ffi.sizeof(f"vl_api_{d.name}_t") == lay.fixed_size == table(name)[d.name].fixed_size
        for f, off in lay.offsets.items():
            assert ffi.offsetof(f"vl_api_{d.name}_t", f) == off


@pytest.mark.parametrize("name", PLUGINS)
def test_encoded_bytes_read_back_through_the_cdef_struct(name: str):
    m = module(name)
    ffi = gen_cdef.cdef_ffi(m)
    mt = table(name)[f"{name}_get_version_reply"]
    b = mt.encode({"_vl_msg_id": 0x1234, "context": 0x01020304, "retval": -7, "major": 1})
    p = ffi.cast(f"vl_api_{name}_get_version_reply_t *", ffi.from_buffer(b))
    assert p._vl_msg_id == 0x3412  # wire order, read on a little-endian host
    assert ffi.sizeof(p[0]) == len(b)


@pytest.mark.parametrize("name", PLUGINS)
def test_c_header_asserts_every_message_size_and_offset(name: str):
    m = module(name)
    h = gen_c.generate(m)
    for d in m.messages:
        lay = message_layout(m, d)
        assert f"sizeof(vl_api_{d.name}_t) == {lay.fixed_size}" in h
        for f, off in lay.offsets.items():
            assert f"offsetof(vl_api_{d.name}_t, {f}) == {off}" in h


def _vpp_include() -> Path | None:
    for d in [os.environ.get("VPP_PREFIX", ""), "/usr"]:
        p = Path(d or "/nonexistent") / "include" / "vnet" / "ip" / "ip_types.api"
        if p.exists():
            return p.parents[2]
    return None


def _vppapigen() -> str | None:
    prefix = Path(os.environ.get("VPP_PREFIX", "/usr"))
    for cand in (prefix / "bin" / "vppapigen", prefix / "share" / "vpp" / "vppapigen"):
        if cand.exists():
            return str(cand)
    return shutil.which("vppapigen")


@pytest.mark.needs_vpp
@pytest.mark.parametrize("name", PLUGINS)
def test_json_and_types_equal_vppapigen_output(name: str, tmp_path: Path):
    inc, gen = _vpp_include(), _vppapigen()
    if inc is None or gen is None:
        pytest.skip("VPP's .api files or vppapigen not installed")
    src = api_file(name)
    out = tmp_path / f"{name}.api.json"
    subprocess.run(
        [
            gen,
            "--includedir",
            str(inc),
            "--input",
            str(src),
            "--outputdir",
            str(tmp_path),
            "JSON",
            "--output",
            str(out),
        ],
        check=True,
    )
    ours = gen_json.generate(load(src, include_dirs=[str(inc)]))
    assert ours == out.read_text().rstrip("\n")
    # the packed layouts: compile vppapigen's types header and print sizeof of each message
    hdr = tmp_path / f"{name}.api_types.h"
    subprocess.run(
        [
            gen,
            "--includedir",
            str(inc),
            "--input",
            str(src),
            "--outputdir",
            str(tmp_path),
            "C",
            "--output",
            str(tmp_path / f"{name}.api.h"),
        ],
        check=True,
    )
    m = load(src, include_dirs=[str(inc)])
    prog = tmp_path / "sizes.c"
    lines = [
        "#include <stdbool.h>",
        "#include <vppinfra/types.h>",
        "#include <vppinfra/error_bootstrap.h>",
        f'#include "{hdr}"',
        "#include <stdio.h>",
        "int main(void){",
    ]
    lines += [f'printf("%zu\\n", sizeof(vl_api_{d.name}_t));' for d in m.messages]
    lines.append("return 0;}")
    prog.write_text("\n".join(lines))
    exe = tmp_path / "sizes"
    subprocess.run(
        ["cc", "-I", str(inc), "-I", str(tmp_path), str(prog), "-o", str(exe)], check=True
    )
    sizes = [
        int(x)
        for x in subprocess.run(
            [str(exe)], capture_output=True, text=True, check=True
        ).stdout.split()
    ]
    assert sizes == [message_layout(m, d).fixed_size for d in m.messages]
    assert json.loads(ours)["module"] == name
