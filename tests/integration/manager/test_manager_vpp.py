"""The manager against a real VPP (needs_vpp: skipped where VPP is not installed).

Same namespaces and before/after comparison as the stand-in tests, but VPP really takes the
veth through af_packet, the API steps go through vpp_papi, and traffic crosses VPP both ways:
the gateway pings the node's address (answered by VPP) and the host pings the gateway through
the tap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from manager_netns import UPLINK, Host

pytestmark = [pytest.mark.needs_vpp, pytest.mark.needs_root]

REAL_TEMPLATE = """unix {
  nodaemon
  cli-listen SOCKDIR/cli.sock
}
socksvr { socket-name SOCKDIR/api.sock }
memory { main-heap-page-size 4k }
buffers { buffers-per-numa 16384 page-size 4k }
plugins {
  plugin default { enable }
  plugin dpdk_plugin.so { disable }
}
"""


def _vpp() -> tuple[str, str]:
    prefix_env = os.environ.get("VPP_PREFIX")
    binary = (
        os.environ.get("VPP_BINARY")
        or (str(Path(prefix_env) / "bin" / "vpp") if prefix_env else None)
        or shutil.which("vpp")
        or "vpp"
    )
    prefix = prefix_env or str(Path(binary).resolve().parent.parent)
    return binary, str(Path(prefix) / "share" / "vpp" / "api")


def _ping(ns: str, dst: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-c", "3", "-W", "2", dst],
        capture_output=True,
        text=True,
        check=False,
    )


def test_real_vpp_takes_the_uplink_carries_traffic_and_gives_it_back(host: Host) -> None:
    binary, api_dir = _vpp()
    sockdir = host.tmp / "run"
    sockdir.mkdir(mode=0o700, exist_ok=True)  # VPP does not create its sockets' directory
    template = REAL_TEMPLATE.replace("SOCKDIR", str(sockdir))
    args = host.manager_args("--vpp-api-dir", api_dir, "--api-timeout", "60")
    args[args.index("--vpp-binary") + 1] = binary
    env = host.env(CALICOVPP_CONFIG_TEMPLATE=template)
    p = subprocess.Popen(
        ["ip", "netns", "exec", host.ns, sys.executable, "-m", "pycontrol.cli", *args],
        env=env,
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if not Path("/dev/vhost-net").exists():
        # VPP's tap needs vhost-net: without it the takeover fails at the tap, after the
        # uplink, its addresses and routes went into the real VPP; the host must come back
        out, _ = p.communicate(timeout=90)
        assert p.returncode == 1, out
        assert "connected to vpp" in out and "tap_create_v3" in out, out
        host.assert_restored(out)
        pytest.skip("no /dev/vhost-net: traffic through VPP's tap not checked here")
    try:
        info = host.wait_ready(p, timeout=90)
        assert info["UplinkStatuses"][UPLINK]["SwIfIndex"] > 0
        r = _ping(host.peer_ns, "192.0.2.10")  # VPP answers for the node's address
        assert r.returncode == 0, r.stdout
        r = _ping(host.ns, "192.0.2.1")  # host -> tap -> VPP -> uplink -> gateway
        assert r.returncode == 0, r.stdout
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    host.assert_restored(out)
