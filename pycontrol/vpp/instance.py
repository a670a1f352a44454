"""A VPP process for the needs_vpp tests and the VPP benchmarks: located through
environment variables, started with a startup.conf that needs no hugepages, with both
calico plugins loaded, driven through its API socket (vpp_papi for the CLI, the project's
PluginClient for the plugins). Packet-generator helpers are in :mod:`pycontrol.vpp.pg`.

Environment:
  VPP_PREFIX       an install prefix of VPP (bin/vpp, lib/*/vpp_plugins, share/vpp/api)
  VPP_BINARY       the vpp executable (default: $VPP_PREFIX/bin/vpp, else `vpp` on PATH)
  VPP_PLUGIN_PATH  colon-separated plugin directories searched before VPP's own; one of
                   them must hold calico_dnat_plugin.so and calico_policy_plugin.so
  VPP_API_DIR      colon-separated directories of *.api.json (default: $VPP_PREFIX/share/
                   vpp/api, /usr/share/vpp/api)
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycontrol.vppapi import registry
from pycontrol.vppapi.client import PluginClient
from pycontrol.vppapi.transport import VppSocketTransport

PLUGINS = ("calico_dnat_plugin.so", "calico_policy_plugin.so")


class VppUnavailableError(Exception):
    """The environment does not point at a usable VPP (the tests skip)."""


def _split(v: str | None) -> list[Path]:
    return [Path(p) for p in (v or "").split(":") if p]


@dataclass(frozen=True)
class VppLocation:
    binary: Path
    plugin_path: tuple[Path, ...]
    api_dirs: tuple[Path, ...]

    @classmethod
    def from_env(cls) -> VppLocation:
        prefix = os.environ.get("VPP_PREFIX")
        binary = os.environ.get("VPP_BINARY") or (
            str(Path(prefix) / "bin" / "vpp") if prefix else shutil.which("vpp")
        )
        if not binary or not os.access(binary, os.X_OK):
            raise VppUnavailableError("no VPP executable (VPP_BINARY / VPP_PREFIX)")
        bin_prefix = Path(binary).resolve().parent.parent
        roots = [Path(prefix)] if prefix else []
        roots.append(bin_prefix)
        plugin_path = _split(os.environ.get("VPP_PLUGIN_PATH"))
        for r in roots:
            plugin_path += [Path(p) for p in sorted(glob.glob(str(r / "lib*" / "*vpp_plugins")))]
            plugin_path += [
                Path(p) for p in sorted(glob.glob(str(r / "lib*" / "*" / "vpp_plugins")))
            ]
        plugin_path = [p for p in dict.fromkeys(plugin_path) if p.is_dir()]
        for so in PLUGINS:
            if not any((d / so).exists() for d in plugin_path):
                raise VppUnavailableError(f"{so} not found in VPP_PLUGIN_PATH / the VPP prefix")
        api_dirs = _split(os.environ.get("VPP_API_DIR"))
        api_dirs += [r / "share" / "vpp" / "api" for r in roots] + [Path("/usr/share/vpp/api")]
        api_dirs = [d for d in dict.fromkeys(api_dirs) if d.is_dir()]
        if not any(glob.glob(str(d / "**" / "memclnt.api.json"), recursive=True) for d in api_dirs):
            raise VppUnavailableError("VPP's core .api.json files not found (VPP_API_DIR)")
        return cls(Path(binary), tuple(plugin_path), tuple(api_dirs))

    def api_json_files(self) -> list[str]:
        files: list[str] = []
        for d in self.api_dirs:
            files += sorted(glob.glob(str(d / "**" / "*.api.json"), recursive=True))
        return files


STARTUP_CONF = """\
unix {{
  nodaemon
  log {wd}/vpp.log
  cli-listen {wd}/cli.sock
  coredump-size 0
}}
api-segment {{ prefix {prefix} }}
socksvr {{ socket-name {wd}/api.sock }}
statseg {{ socket-name {wd}/stats.sock size 64m page-size 4k }}
memory {{ main-heap-size 1G main-heap-page-size 4k }}
buffers {{ buffers-per-numa 16384 page-size 4k }}
{cpu}
plugins {{
  path {plugin_path}
  plugin default {{ disable }}
  plugin calico_dnat_plugin.so {{ enable }}
  plugin calico_policy_plugin.so {{ enable }}
{extra_plugins}}}
calico_dnat {{ max-sessions {sessions} {dnat_options}}}
"""


@dataclass
class Vpp:
    """One running VPP; ``stop()`` (or the context manager) always ends it."""

    loc: VppLocation
    workdir: Path
    workers: int = 0
    session_limit: int = 65536  # calico_dnat max-sessions (per thread)
    extra_plugins: tuple[str, ...] = ()  # more of VPP's own plugins to load (file names)
    dnat_options: str = ""  # more of the calico_dnat { } section, e.g. "udp-timeout 1"
    proc: subprocess.Popen[bytes] | None = None
    _cli: Any = None
    _clients: dict[str, PluginClient] = field(default_factory=dict)
    _transports: list[VppSocketTransport] = field(default_factory=list)

    @property
    def api_socket(self) -> Path:
        return self.workdir / "api.sock"

    def start(self, timeout: float = 60.0) -> None:
        from vpp_papi import VPPApiClient  # type: ignore[import-untyped]  # noqa: PLC0415

        self.workdir.mkdir(parents=True, exist_ok=True)
        cpu = f"cpu {{ workers {self.workers} }}" if self.workers else ""
        conf = STARTUP_CONF.format(
            wd=self.workdir,
            prefix=f"calico-test-{os.getpid()}-{id(self)}",
            cpu=cpu,
            sessions=self.session_limit,
            plugin_path=":".join(str(p) for p in self.loc.plugin_path),
            extra_plugins="".join(f"  plugin {p} {{ enable }}\n" for p in self.extra_plugins),
            dnat_options=f"{self.dnat_options} " if self.dnat_options else "",
        )
        (self.workdir / "startup.conf").write_text(conf)
        self.proc = subprocess.Popen(
            [str(self.loc.binary), "-c", str(self.workdir / "startup.conf")],
            stdout=open(self.workdir / "stdout.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.api_socket.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"VPP exited ({self.proc.returncode}): {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"VPP's API socket did not appear: {self.log_tail()}")
            time.sleep(0.1)
        self._cli = VPPApiClient(
            apifiles=self.loc.api_json_files(), server_address=str(self.api_socket)
        )
        while True:
            try:
                self._cli.connect("calico-tests")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def log_tail(self, n: int = 40) -> str:
        out = []
        for f in ("stdout.log", "vpp.log"):
            p = self.workdir / f
            if p.exists():
                out += p.read_text(errors="replace").splitlines()[-n:]
        return "\n".join(out)

    def cli(self, cmd: str) -> str:
        r = self._cli.api.cli_inband(cmd=cmd)
        if r.retval != 0:
            raise RuntimeError(f"'{cmd}' failed ({r.retval}): {r.reply}")
        return str(r.reply)

    def client(self, module: str) -> PluginClient:
        """The project's client for a plugin over VPP's API socket."""
        if module not in self._clients:
            t = VppSocketTransport(self.loc.api_json_files(), str(self.api_socket))
            self._transports.append(t)
            self._clients[module] = PluginClient(t, registry.table(module))
        return self._clients[module]

    def sw_if_index(self, name: str) -> int:
        for i in self._cli.api.sw_interface_dump():
            if i.interface_name == name:
                return int(i.sw_if_index)
        raise KeyError(name)

    def stop(self) -> None:
        for t in self._transports:
            with contextlib.suppress(Exception):  # VPP may already be gone
                t.close()
        self._transports.clear()
        self._clients.clear()
        if self._cli is not None:
            with contextlib.suppress(Exception):
                self._cli.disconnect()
            self._cli = None
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> Vpp:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
