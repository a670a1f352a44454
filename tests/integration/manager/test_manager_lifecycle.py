"""The manager's whole life with a stand-in VPP, in network namespaces.

Every case ends with the host's `ip -j link/addr/route` compared to the snapshot taken before
the manager ran: the host must get its network back exactly, however VPP ended.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from manager_netns import UPLINK, UPLINK_MAC, UPLINK_MTU, Host, ip, snapshot

pytestmark = pytest.mark.needs_root


def _wait_exit(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still alive")


def test_clean_stop_forwards_sigterm_to_vpp_and_restores_the_host(host: Host) -> None:
    p = host.start()
    try:
        info = host.wait_ready(p)
        # while VPP runs: the uplink is in VPP's netns, the host has a tap in its place
        assert ip(host.vpp_ns, "link", "show", UPLINK).returncode == 0
        tap = json.loads(ip(host.ns, "-j", "-d", "addr", "show", UPLINK).stdout)[0]
        assert tap["linkinfo"]["info_kind"] == "tun"
        assert tap["address"] == UPLINK_MAC
        assert tap["mtu"] == UPLINK_MTU
        locals_ = {a["local"] for a in tap["addr_info"]}
        assert {"192.0.2.10", "198.51.100.10", "2001:db8:1::10", "2001:db8:2::10"} <= locals_
        assert any(a["local"].startswith("fe80::") for a in tap["addr_info"])
        routes = ip(host.ns, "-j", "route", "show", "default").stdout
        assert json.loads(routes)[0]["gateway"] == "192.0.2.1"
        assert info["Status"] == "ready"
        assert info["UplinkStatuses"][UPLINK]["LinkIndex"] == tap["ifindex"]
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    events = host.vpp_events()
    assert {"event": "signal", "signal": signal.SIGTERM} in events
    assert events[-1] == {"event": "exit", "status": 0}
    assert not host.info_file.exists()
    assert json.loads(host.state_file.read_text())["vpp_owns_uplink"] is False
    host.assert_restored(out)


def test_vpp_runs_in_its_own_netns_with_the_rendered_startup_conf(host: Host) -> None:
    p = host.start()
    try:
        host.wait_ready(p)
        start = next(e for e in host.vpp_events() if e["event"] == "start")
        vpp_ns_inode = os.stat(f"/run/netns/{host.vpp_ns}").st_ino
        assert start["netns"] == f"net:[{vpp_ns_inode}]"
        conf = (host.tmp / "etc" / "startup.conf").read_text()
        assert f"cli-listen /run/vpp-{UPLINK}/cli.sock" in conf
        assert start["socket"] == str(host.api_socket)
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    host.assert_restored(out)


def test_api_steps_bring_the_uplink_up_before_addresses_and_mirror_the_host(host: Host) -> None:
    p = host.start()
    try:
        host.wait_ready(p)
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    calls = host.dp_calls()
    names = [c["call"] for c in calls]
    assert names[0] == "create_af_packet"
    assert calls[0]["host_if_name"] == UPLINK and calls[0]["mac"] == UPLINK_MAC
    uplink = calls[0]["ret"]
    up = names.index("set_interface_up")
    assert calls[up]["sw_if_index"] == uplink
    first_addr = names.index("add_address")
    assert up < first_addr
    addrs = {c["address"] for c in calls if c["call"] == "add_address"}
    assert addrs == {"192.0.2.10/24", "198.51.100.10/24", "2001:db8:1::10/64", "2001:db8:2::10/64"}
    routes = {(c["dst"], c["gateway"]) for c in calls if c["call"] == "add_route"}
    assert ("0.0.0.0/0", "192.0.2.1") in routes
    assert ("::/0", "2001:db8:1::1") in routes
    assert ("10.20.0.0/16", "192.0.2.254") in routes
    tap = next(c for c in calls if c["call"] == "create_tap")
    assert (tap["host_if_name"], tap["host_mac"], tap["mtu"]) == (UPLINK, UPLINK_MAC, UPLINK_MTU)
    host.assert_restored(out)


def test_vpp_crash_restores_the_host_and_exits_nonzero(host: Host) -> None:
    p = host.start()
    host.wait_ready(p)
    os.kill(host.vpp_pid(), signal.SIGUSR1)  # the stand-in segfaults
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 1, out
    assert "vpp exited on its own" in out
    assert {"event": "crash"} in host.vpp_events()
    host.assert_restored(out)


def test_sigkill_of_vpp_restores_the_host_and_exits_nonzero(host: Host) -> None:
    p = host.start()
    host.wait_ready(p)
    os.kill(host.vpp_pid(), signal.SIGKILL)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 1, out
    assert "returncode=-9" in out
    host.assert_restored(out)


def test_vpp_that_never_opens_its_api_socket_is_stopped_and_the_host_restored(
    host: Host,
) -> None:
    rc, out = host.run("--api-timeout", "1.5", mode="no-socket")
    assert rc == 1, out
    assert "vpp API did not answer" in out
    assert {"event": "signal", "signal": signal.SIGTERM} in host.vpp_events()
    host.assert_restored(out)


def test_vpp_that_exits_at_once_restores_the_host(host: Host) -> None:
    rc, out = host.run(mode="exit")
    assert rc == 1, out
    assert "vpp exited before its API came up" in out
    host.assert_restored(out)


def test_vpp_ignoring_sigterm_is_killed_after_the_grace_period(host: Host) -> None:
    p = host.start(mode="ignore-term")
    host.wait_ready(p)
    pid = host.vpp_pid()
    rc, out = host.stop(p)
    assert rc == 1, out  # a VPP that had to be killed is a failure
    assert "vpp ignored SIGTERM; killing it" in out
    _wait_exit(pid)
    host.assert_restored(out)


def test_sigterm_while_waiting_for_the_api_stops_vpp_and_restores(host: Host) -> None:
    p = host.start("--api-timeout", "60", mode="no-socket")
    host.vpp_pid()
    rc, out = host.stop(p)
    assert rc == 0, out
    assert {"event": "signal", "signal": signal.SIGTERM} in host.vpp_events()
    host.assert_restored(out)


def test_sigint_is_forwarded_like_sigterm(host: Host) -> None:
    p = host.start()
    host.wait_ready(p)
    rc, out = host.stop(p, signal.SIGINT)
    assert rc == 0, out
    assert {"event": "signal", "signal": signal.SIGTERM} in host.vpp_events()
    host.assert_restored(out)


def test_manager_killed_then_restarted_restores_from_the_state_file(host: Host) -> None:
    p = host.start()
    host.wait_ready(p)
    vpp = host.vpp_pid()
    p.kill()  # the manager dies without restoring; VPP (its own session) lives on
    p.wait(timeout=10)
    os.kill(vpp, signal.SIGKILL)
    _wait_exit(vpp)
    p.communicate(timeout=10)
    assert json.loads(host.state_file.read_text())["vpp_owns_uplink"] is True
    assert ip(host.ns, "link", "show", UPLINK).returncode == 0  # the leftover tap
    rc, out = host.run("--restore-only")
    assert rc == 0, out
    host.assert_restored(out)


def test_next_run_recovers_a_host_left_by_a_killed_manager(host: Host) -> None:
    p = host.start()
    host.wait_ready(p)
    vpp = host.vpp_pid()
    p.kill()
    p.wait(timeout=10)
    os.kill(vpp, signal.SIGKILL)
    _wait_exit(vpp)
    p.communicate(timeout=10)
    host.events.unlink()
    p = host.start()
    try:
        host.vpp_pid()  # the new VPP started: the old run's info file is gone by now
        host.wait_ready(p)
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    assert "restoring from state file" in out
    host.assert_restored(out)


def test_hooks_run_at_their_points_with_the_uplink_name(host: Host) -> None:
    marks = host.tmp / "hooks.log"
    hooks = {
        f"CALICOVPP_HOOK_{k}": f'echo "$0 $1 __VPP_DATAPLANE_IF__" >> {marks}'
        for k in ("BEFORE_IF_READ", "BEFORE_VPP_RUN", "VPP_RUNNING", "VPP_DONE_OK")
    }
    p = host.start(**hooks)
    try:
        host.wait_ready(p)
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    assert marks.read_text().splitlines() == [
        f"before_if_read {UPLINK} {UPLINK}",
        f"before_vpp_run {UPLINK} {UPLINK}",
        f"vpp_running {UPLINK} {UPLINK}",
        f"vpp_done_ok {UPLINK} {UPLINK}",
    ]
    host.assert_restored(out)


def test_uplink_taken_by_af_xdp_is_restored_too(host: Host) -> None:
    env = {
        "CALICOVPP_INTERFACES": json.dumps(
            {"uplinkInterfaces": [{"interfaceName": UPLINK, "vppDriver": "af_xdp"}]}
        )
    }
    p = host.start(**env)
    try:
        host.wait_ready(p)
        conf = (host.tmp / "etc" / "startup.conf").read_text()
        assert "plugin af_xdp_plugin.so { enable }" in conf
        assert host.dp_calls()[0]["call"] == "create_af_xdp"
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    host.assert_restored(out)


def test_uplink_that_was_down_and_promiscuous_comes_back_so(host: Host) -> None:
    ip(host.ns, "link", "set", UPLINK, "promisc", "on")
    ip(host.ns, "addr", "add", "203.0.113.5/24", "dev", UPLINK)
    host.before = snapshot(host.ns)
    p = host.start()
    try:
        host.wait_ready(p)
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    host.assert_restored(out)
    assert "PROMISC" in ip(host.ns, "link", "show", UPLINK).stdout


def test_the_restored_uplink_forwards_traffic(host: Host) -> None:
    p = host.start()
    try:
        host.wait_ready(p)
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    for dst in ("192.0.2.1", "2001:db8:1::1"):
        r = subprocess.run(
            ["ip", "netns", "exec", host.ns, "ping", "-c", "1", "-W", "2", dst],
            capture_output=True,
            text=True,
            check=False,
        )
        assert r.returncode == 0, r.stdout + r.stderr


def test_configured_mtu_applies_to_uplink_and_tap_and_the_original_comes_back(
    host: Host,
) -> None:
    env = {
        "CALICOVPP_INTERFACES": json.dumps(
            {"uplinkInterfaces": [{"interfaceName": UPLINK, "vppDriver": "af_packet", "mtu": 1300}]}
        )
    }
    p = host.start(**env)
    try:
        host.wait_ready(p)
        in_vpp = json.loads(ip(host.vpp_ns, "-j", "link", "show", UPLINK).stdout)[0]
        tap = json.loads(ip(host.ns, "-j", "link", "show", UPLINK).stdout)[0]
        assert in_vpp["mtu"] == tap["mtu"] == 1300
        assert "PROMISC" in in_vpp["flags"]
        mtus = [c["mtu"] for c in host.dp_calls() if c["call"] == "set_interface_mtu"]
        assert mtus == [1300]
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    host.assert_restored(out)


def test_sighup_stops_like_sigterm(host: Host) -> None:
    p = host.start()
    host.wait_ready(p)
    rc, out = host.stop(p, signal.SIGHUP)
    assert rc == 0, out
    host.assert_restored(out)


def test_a_failing_hook_is_logged_and_does_not_stop_the_takeover(host: Host) -> None:
    p = host.start(CALICOVPP_HOOK_BEFORE_VPP_RUN="echo broken >&2; exit 3")
    try:
        host.wait_ready(p)
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    assert "hook failed" in out and "rc=3" in out
    host.assert_restored(out)


def test_manager_creates_vpps_netns_when_missing(host: Host) -> None:
    subprocess.run(["ip", "netns", "del", host.vpp_ns], check=True)
    p = host.start()
    try:
        host.wait_ready(p)
        start = next(e for e in host.vpp_events() if e["event"] == "start")
        own = subprocess.run(
            ["ip", "netns", "exec", host.ns, "readlink", "/proc/self/ns/net"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert start["netns"] != own  # VPP is not in the host's namespace
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    host.assert_restored(out)
