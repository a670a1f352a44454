"""Helpers for the manager tests: a "host" network namespace whose uplink is a veth with real
IPv4/IPv6 addresses and routes (its peer, the "gateway", in a second namespace), VPP's
namespace, and helpers to run the manager (real CLI or with the stand-in dataplane) inside
the host.

Every namespace has a unique name and is deleted in ``finally``, whatever the test did.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pycontrol

HERE = Path(__file__).resolve().parent
UPLINK = "upl0"
UPLINK_MAC = "02:00:5e:10:00:0a"
UPLINK_MTU = 1400

# What the host's uplink carries: addresses of both families with and without flags, routes
# with metrics, in another table, v4 and v6 defaults.
HOST_SETUP = [
    f"link set {UPLINK} address {UPLINK_MAC} mtu {UPLINK_MTU}",
    f"link set {UPLINK} up",
    f"addr add 192.0.2.10/24 dev {UPLINK}",
    f"addr add 198.51.100.10/24 brd + dev {UPLINK} label {UPLINK}:1",
    f"addr add 2001:db8:1::10/64 dev {UPLINK}",
    f"addr add 2001:db8:2::10/64 dev {UPLINK} noprefixroute",
    f"route add 10.20.0.0/16 via 192.0.2.254 dev {UPLINK} metric 50",
    f"route add 10.30.0.0/16 via 192.0.2.1 dev {UPLINK} table 100",
    f"route add default via 192.0.2.1 dev {UPLINK} metric 100",
    f"-6 route add 2001:db8:99::/48 via 2001:db8:1::1 dev {UPLINK} metric 200",
    f"-6 route add 2001:db8:2::/64 dev {UPLINK} metric 300",
    f"-6 route add default via 2001:db8:1::1 dev {UPLINK} metric 1024",
]

TEMPLATE = """unix {
  nodaemon
  cli-listen /run/vpp-__VPP_DATAPLANE_IF__/cli.sock
}
cpu { main-core __CPUSET_CPUS_FIRST__ }
socksvr { socket-name SOCKET }
plugins {
  plugin default { enable }
  plugin dpdk_plugin.so { disable }
}
"""


def ip(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "-n", ns, *args], capture_output=True, text=True, check=check)


def _normalize(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [{k: v for k, v in o.items() if k not in ("stats64", "stats")} for o in objs]
    return sorted(out, key=lambda o: json.dumps(o, sort_keys=True))


def snapshot(ns: str) -> dict[str, Any]:
    """`ip -j addr/route/link` of the namespace, in a comparable form."""

    def j(*args: str) -> list[dict[str, Any]]:
        r = ip(ns, "-j", *args)
        return json.loads(r.stdout or "[]")  # type: ignore[no-any-return]

    return {
        "link": _normalize(j("-d", "link", "show")),
        "addr": _normalize(j("addr", "show")),
        "route4": _normalize(j("-4", "route", "show", "table", "all")),
        "route6": _normalize(j("-6", "route", "show", "table", "all")),
    }


def _diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    lines = []
    for k, va in a.items():
        if va != b[k]:
            ja = {json.dumps(x, sort_keys=True) for x in va}
            jb = {json.dumps(x, sort_keys=True) for x in b[k]}
            lines += [f"{k} before only: {x}" for x in sorted(ja - jb)]
            lines += [f"{k} after only:  {x}" for x in sorted(jb - ja)]
    return "\n".join(lines)


@dataclass
class Host:
    ns: str
    peer_ns: str
    vpp_ns: str
    tmp: Path
    before: dict[str, Any] = field(default_factory=dict)

    @property
    def events(self) -> Path:
        return self.tmp / "vpp-events.jsonl"

    @property
    def dp_log(self) -> Path:
        return self.tmp / "dp-calls.jsonl"

    @property
    def info_file(self) -> Path:
        return self.tmp / "info.json"

    @property
    def state_file(self) -> Path:
        return self.tmp / "state.json"

    @property
    def api_socket(self) -> Path:
        return self.tmp / "run" / "api.sock"

    def env(self, mode: str = "serve", **extra: str) -> dict[str, str]:
        uplinks = {"uplinkInterfaces": [{"interfaceName": UPLINK, "vppDriver": "af_packet"}]}
        env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(Path(pycontrol.__file__).resolve().parent.parent),
            "NODENAME": "node-a",
            "CALICOVPP_INTERFACES": json.dumps(uplinks),
            "CALICOVPP_CONFIG_TEMPLATE": TEMPLATE.replace("SOCKET", str(self.api_socket)),
            "STANDIN_VPP_MODE": mode,
            "STANDIN_VPP_EVENTS": str(self.events),
            "STANDIN_DP_LOG": str(self.dp_log),
        }
        env.update(extra)
        return env

    def vpp_binary(self) -> Path:
        """The stand-in VPP as an executable (shebang: this interpreter)."""
        exe = self.tmp / "vpp"
        if not exe.exists():
            exe.write_text(f"#!{sys.executable}\n" + (HERE / "standin_vpp.py").read_text())
            exe.chmod(0o755)
        return exe

    def manager_args(self, *extra: str) -> list[str]:
        return [
            "manager",
            "--vpp-binary",
            str(self.vpp_binary()),
            "--vpp-netns",
            self.vpp_ns,
            "--startup-conf",
            str(self.tmp / "etc" / "startup.conf"),
            "--state-file",
            str(self.state_file),
            "--info-file",
            str(self.info_file),
            "--grace-period",
            "2",
            *extra,
        ]

    def start(
        self, *extra: str, mode: str = "serve", standin_dp: bool = True, **env: str
    ) -> subprocess.Popen[str]:
        """Run the manager inside the host namespace (as `ip netns exec` does on a node)."""
        if standin_dp:
            cmd = [sys.executable, str(HERE / "standin_manager.py"), *self.manager_args(*extra)]
        else:
            cmd = [sys.executable, "-m", "pycontrol.cli", *self.manager_args(*extra)]
        return subprocess.Popen(
            ["ip", "netns", "exec", self.ns, *cmd],
            env=self.env(mode, **env),
            cwd="/",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def run(
        self, *extra: str, mode: str = "serve", standin_dp: bool = True, **env: str
    ) -> tuple[int, str]:
        p = self.start(*extra, mode=mode, standin_dp=standin_dp, **env)
        out, _ = p.communicate(timeout=60)
        return p.returncode, out

    def vpp_events(self) -> list[dict[str, Any]]:
        if not self.events.exists():
            return []
        return [json.loads(x) for x in self.events.read_text().splitlines()]

    def dp_calls(self) -> list[dict[str, Any]]:
        if not self.dp_log.exists():
            return []
        return [json.loads(x) for x in self.dp_log.read_text().splitlines()]

    def vpp_pid(self, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.vpp_events():
                if e["event"] == "start":
                    return int(e["pid"])
            time.sleep(0.05)
        raise AssertionError("the stand-in VPP never started")

    def wait_ready(self, proc: subprocess.Popen[str], timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.info_file.exists():
                return json.loads(self.info_file.read_text())  # type: ignore[no-any-return]
            if proc.poll() is not None:
                raise AssertionError(
                    f"manager exited early:\n{proc.stdout.read() if proc.stdout else ''}"
                )
            time.sleep(0.05)
        raise AssertionError("manager never wrote its info file")

    def stop(self, proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str]:
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
        return proc.returncode, out

    def assert_restored(self, out: str = "") -> None:
        after = snapshot(self.ns)
        assert after == self.before, (
            f"host not restored exactly:\n{_diff(self.before, after)}\n{out}"
        )


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def make_host(tmp_path: Path) -> Iterator[Host]:
    h = Host(_unique("pcm-h"), _unique("pcm-p"), _unique("pcm-v"), tmp_path)
    try:
        for ns in (h.ns, h.peer_ns):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            for knob in ("all", "default"):
                subprocess.run(
                    [
                        "ip",
                        "netns",
                        "exec",
                        ns,
                        "sh",
                        "-c",
                        f"echo 0 > /proc/sys/net/ipv6/conf/{knob}/accept_dad",
                    ],
                    check=True,
                )
        # VPP's namespace exists before the manager runs, as on a node where it persists
        # across restarts (and so its mount is visible outside `ip netns exec`)
        subprocess.run(["ip", "netns", "add", h.vpp_ns], check=True)
        ip(h.ns, "link", "set", "lo", "up")
        ip(h.ns, "link", "add", UPLINK, "type", "veth", "peer", "name", "gw0", "netns", h.peer_ns)
        for cmd in HOST_SETUP:
            ip(h.ns, *cmd.split())
        ip(h.peer_ns, "link", "set", "gw0", "up")
        ip(h.peer_ns, "addr", "add", "192.0.2.1/24", "dev", "gw0")
        ip(h.peer_ns, "addr", "add", "2001:db8:1::1/64", "dev", "gw0")
        h.before = snapshot(h.ns)
        yield h
    finally:
        for ns in (h.ns, h.peer_ns, h.vpp_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
