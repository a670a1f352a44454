"""The manager's run: plan (no host change), take over, supervise VPP, always restore.

``Manager.plan`` does every check that can fail — configuration, the uplink's presence and
addresses, driver support, placeholders, the VPP binary — and changes nothing. ``run`` then
changes the host only inside a ``try`` whose ``finally`` restores the uplink, whatever way
VPP ends. SIGTERM/SIGINT/SIGCHLD are blocked and taken with ``sigtimedwait`` so none is lost
between steps; VPP gets them unblocked.
"""

from __future__ import annotations

import ctypes
import enum
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycontrol import log
from pycontrol.dataplane.interface import Dataplane, DataplaneError
from pycontrol.dataplane.types import QueueSpec, Route, RxMode, TapSpec
from pycontrol.manager import hooks, netlink, startup_conf, statefile
from pycontrol.manager.config import ManagerConfig
from pycontrol.manager.drivers import DriverContext, HostCaps, UplinkDriver, for_saved, select
from pycontrol.manager.errors import ConfigError, DiscoveryError, ManagerError
from pycontrol.manager.linux_state import RT_TABLE_MAIN, LinuxInterfaceState, SavedState
from pycontrol.manager.restore import apply_state, restore

CLONE_NEWNET = 0x40000000
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
SIGNALS = {*STOP_SIGNALS, signal.SIGCHLD}
Connect = Callable[[str, Path | None], Dataplane]


class Outcome(enum.Enum):
    STOPPED = "stopped"  # VPP ended after the manager asked it to
    VPP_EXITED = "vpp exited"  # VPP ended on its own (crash, SIGKILL from outside, exit)
    NEVER_UP = "never up"  # VPP's API never answered
    KILLED = "killed"  # VPP ignored SIGTERM for the grace period


@dataclass(frozen=True)
class Plan:
    """Everything decided before the host is touched."""

    state: LinuxInterfaceState
    driver: UplinkDriver
    startup_conf: str
    startup_exec: str
    api_socket: str
    vpp_binary: str
    hooks: dict[str, str]


def _vpp_binary(name: str) -> str:
    path = name if "/" in name else shutil.which(name)
    if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise ConfigError("--vpp-binary", None, f"{name!r} is not an executable file")
    return path


class Manager:
    def __init__(
        self,
        cfg: ManagerConfig,
        connect: Connect,
        *,
        caps: HostCaps | None = None,
        sysfs: Path = Path("/sys"),
        cgroup: Path = Path("/sys/fs/cgroup"),
        preflight: Callable[[], object] | None = None,
    ) -> None:
        self.cfg = cfg
        self.connect = connect
        self.preflight = preflight
        self.caps = caps
        self.sysfs = sysfs
        self.cgroup = cgroup
        self.ctx = DriverContext(cfg.vpp_netns, sysfs)
        self.log = log.get("manager").bind(node=cfg.node_name, uplink=cfg.uplink.interface_name)

    # ---- planning: no host change -------------------------------------------------------

    def discover(self) -> LinuxInterfaceState:
        name = self.cfg.uplink.interface_name
        state = netlink.discover(name, sysfs=self.sysfs)
        if not state.global_addresses():
            saved = statefile.load(self.cfg.state_file)
            if saved is not None and saved.uplink.name == name and saved.uplink.global_addresses():
                self.log.warning("uplink has no address in Linux; using the saved state")
                return saved.uplink.model_copy(update={"ifindex": state.ifindex})
            raise DiscoveryError(f"uplink interface {name!r} has no IPv4/IPv6 address")
        return state

    def plan(self) -> Plan:
        cfg = self.cfg
        vpp_binary = _vpp_binary(cfg.vpp_binary)
        if netlink.netns_exists(cfg.vpp_netns) and netlink.link_index(
            cfg.uplink.interface_name, cfg.vpp_netns
        ):
            raise DiscoveryError(
                f"{cfg.uplink.interface_name} is already in netns {cfg.vpp_netns}: "
                f"run `pycontrol manager --restore-only` first"
            )
        state = self.discover()
        caps = self.caps or HostCaps.probe(sysfs=self.sysfs)
        driver = select(cfg.uplink, state, caps)
        values = startup_conf.PlaceholderValues(
            uplink_name=state.name,
            pci_id=state.pci_id,
            cpuset_first=startup_conf.cpuset_first(self.cgroup),
            annotations=cfg.node_annotations,
        )
        conf = startup_conf.render(cfg.config_template, values, driver.sections())
        exec_conf = startup_conf.substitute(
            cfg.config_exec_template, values, "CALICOVPP_CONFIG_EXEC_TEMPLATE"
        )
        if self.preflight is not None:  # e.g. VPP's API definitions must load
            try:
                self.preflight()
            except DataplaneError as e:
                raise ConfigError("--vpp-api-dir", None, str(e)) from e
        return Plan(
            state=state,
            driver=driver,
            startup_conf=conf,
            startup_exec=exec_conf,
            api_socket=startup_conf.api_socket(conf),
            vpp_binary=vpp_binary,
            hooks=hooks.render(cfg.hooks, values),
        )

    # ---- recovery from an earlier run that could not restore ----------------------------

    def recover(self) -> bool:
        """If a previous run left the uplink with VPP, restore it from the state file."""
        saved = statefile.load(self.cfg.state_file)
        if saved is None or not saved.vpp_owns_uplink:
            return False
        self.log.warning("previous run did not restore the uplink; restoring from state file")
        restore(for_saved(saved.driver, self.cfg.uplink, saved.uplink), self.ctx)
        statefile.save(self.cfg.state_file, saved.model_copy(update={"vpp_owns_uplink": False}))
        return True

    # ---- the run ------------------------------------------------------------------------

    def run(self) -> int:
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            return self._run()
        finally:
            # a second Ctrl-C during the restore must not kill us when signals unblock
            while signal.sigtimedwait(SIGNALS, 0) is not None:
                pass
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)

    def _run(self) -> int:
        cfg = self.cfg
        cfg.info_file.unlink(missing_ok=True)  # a killed run's "ready" must not mislead the agent
        self.recover()
        early = {k: v for k, v in cfg.hooks.items() if k == "before_if_read"}
        hooks.run(hooks.render(early, self._early_values()), "before_if_read", self._name)
        plan = self.plan()
        self.log.info(
            "plan",
            driver=str(plan.driver.name),
            addresses=[str(a.address) for a in plan.state.addresses],
            routes=len(plan.state.routes),
            api_socket=plan.api_socket,
        )
        if self._pending_stop():
            self.log.info("stop requested before takeover; host untouched")
            return 0
        statefile.write_atomic(cfg.startup_conf, plan.startup_conf, 0o644)
        statefile.write_atomic(cfg.startup_exec, plan.startup_exec, 0o644)
        saved = SavedState(uplink=plan.state, driver=str(plan.driver.name), vpp_owns_uplink=True)
        statefile.save(cfg.state_file, saved)
        hooks.run(plan.hooks, "before_vpp_run", self._name)

        outcome = Outcome.VPP_EXITED
        proc: subprocess.Popen[bytes] | None = None
        dp: Dataplane | None = None
        restored = False
        try:
            netlink.create_netns(cfg.vpp_netns)
            plan.driver.prepare_linux(self.ctx)
            _remove_stale_socket(plan.api_socket)
            proc = self._start_vpp(plan)
            dp = self._wait_api(proc, plan.api_socket)
            if dp is None:
                outcome = Outcome.NEVER_UP if proc.poll() is None else Outcome.VPP_EXITED
                if proc.poll() is None and self._stop_requested:
                    outcome = Outcome.STOPPED
            else:
                self._configure(dp, plan)
                self._write_info(plan, "ready")
                hooks.run(plan.hooks, "vpp_running", self._name)
                outcome = self._supervise(proc)
        except Exception as e:  # whatever failed, the finally below gives the host back
            self.log.error("takeover failed", error=str(e), error_type=type(e).__name__)
            outcome = Outcome.VPP_EXITED
        finally:
            if proc is not None:
                rc_vpp = self._stop_vpp(proc, outcome)
                if outcome is Outcome.STOPPED and self._killed:
                    outcome = Outcome.KILLED
                self.log.info("vpp ended", outcome=outcome.value, returncode=rc_vpp)
            if dp is not None:
                try:
                    dp.close()
                except Exception as e:  # VPP is gone: closing may fail, restore must not
                    self.log.debug("dataplane close", error=str(e))
            self.cfg.info_file.unlink(missing_ok=True)
            try:
                restore(plan.driver, self.ctx)
                statefile.save(cfg.state_file, saved.model_copy(update={"vpp_owns_uplink": False}))
                restored = True
            except Exception as e:
                self.log.error("RESTORE FAILED: the state file keeps the saved state", error=str(e))
        ok = outcome is Outcome.STOPPED and restored
        hooks.run(plan.hooks, "vpp_done_ok" if ok else "vpp_errored", self._name)
        rc = 0 if ok else 1
        self.log.info("manager exit", rc=rc, outcome=outcome.value, restored=restored)
        return rc

    @property
    def _name(self) -> str:
        return self.cfg.uplink.interface_name

    def _early_values(self) -> startup_conf.PlaceholderValues:
        return startup_conf.PlaceholderValues(
            uplink_name=self._name,
            pci_id=None,
            cpuset_first=startup_conf.cpuset_first(self.cgroup),
            annotations=self.cfg.node_annotations,
        )

    # ---- signals ------------------------------------------------------------------------

    _stop_requested = False
    _killed = False

    def _take_signal(self, timeout: float) -> int | None:
        info = signal.sigtimedwait(SIGNALS, max(timeout, 0.0))
        if info is None:
            return None
        if info.si_signo in STOP_SIGNALS:
            if not self._stop_requested:
                self.log.info("stop requested", signal=signal.Signals(info.si_signo).name)
            self._stop_requested = True
        return int(info.si_signo)

    def _pending_stop(self) -> bool:
        while self._take_signal(0) is not None:
            pass
        return self._stop_requested

    # ---- VPP process --------------------------------------------------------------------

    def _start_vpp(self, plan: Plan) -> subprocess.Popen[bytes]:
        netns_fd = os.open(f"/run/netns/{self.cfg.vpp_netns}", os.O_RDONLY)
        libc = ctypes.CDLL(None, use_errno=True)

        def child() -> None:  # between fork and exec: async-signal-safe calls only
            if libc.setns(netns_fd, CLONE_NEWNET) != 0:
                os._exit(126)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())

        try:
            proc = subprocess.Popen(
                [plan.vpp_binary, "-c", str(self.cfg.startup_conf)],
                preexec_fn=child,  # noqa: PLW1509 - single-threaded here: no papi thread yet
                start_new_session=True,
            )
        finally:
            os.close(netns_fd)
        self.log.info("vpp started", pid=proc.pid, binary=plan.vpp_binary)
        return proc

    def _wait_api(self, proc: subprocess.Popen[bytes], sock: str) -> Dataplane | None:
        """Connect with retries until the deadline; None if VPP died, hung or we were stopped."""
        deadline = time.monotonic() + self.cfg.api_timeout
        if self.cfg.initial.vpp_startup_sleep_seconds:
            self._take_signal(self.cfg.initial.vpp_startup_sleep_seconds)
        attempt, last = 0, "no attempt"
        while True:
            if proc.poll() is not None:
                self.log.error("vpp exited before its API came up", returncode=proc.returncode)
                return None
            if self._pending_stop():
                return None
            if os.path.exists(sock):
                attempt += 1
                try:
                    dp = self.connect(sock, self.cfg.api_dir)
                    self.log.info("connected to vpp", socket=sock, attempts=attempt)
                    return dp
                except DataplaneError as e:
                    last = str(e)
            if time.monotonic() >= deadline:
                self.log.error(
                    "vpp API did not answer", socket=sock, timeout=self.cfg.api_timeout, last=last
                )
                return None
            self._take_signal(0.2)

    def _supervise(self, proc: subprocess.Popen[bytes]) -> Outcome:
        while proc.poll() is None:
            if self._stop_requested:
                return Outcome.STOPPED
            self._take_signal(1.0)
        self.log.error("vpp exited on its own", returncode=proc.returncode)
        return Outcome.VPP_EXITED

    def _stop_vpp(self, proc: subprocess.Popen[bytes], outcome: Outcome) -> int:
        """SIGTERM, the grace period, then SIGKILL; reap. Returns VPP's return code."""
        if proc.poll() is None:
            self.log.info("stopping vpp", pid=proc.pid, grace=self.cfg.grace_period)
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + self.cfg.grace_period
            while proc.poll() is None and time.monotonic() < deadline:
                self._take_signal(min(0.2, deadline - time.monotonic()))
            if proc.poll() is None:
                self.log.warning("vpp ignored SIGTERM; killing it", pid=proc.pid)
                proc.kill()
                self._killed = True
        return proc.wait()

    # ---- VPP configuration --------------------------------------------------------------

    def _configure(self, dp: Dataplane, plan: Plan) -> None:
        st, spec = plan.state, self.cfg.uplink
        mtu = spec.mtu or st.mtu
        sw = plan.driver.create_in_vpp(dp, self.ctx)
        self._uplink_sw = sw
        if spec.rx_mode is not None:
            dp.set_rx_mode(sw, RxMode[spec.rx_mode.name])
        dp.set_interface_up(sw, True)  # admin-up before addresses
        dp.set_interface_mtu(sw, mtu)
        dp.enable_ip6(sw)
        for a in st.global_addresses():
            dp.add_address(sw, a.address)
        for r in st.restorable_routes():
            if r.table != RT_TABLE_MAIN:
                self.log.info("route in table not taken into VPP", dst=str(r.dst), table=r.table)
                continue
            dp.add_route(Route(r.dst, sw, r.gateway, 0, 0))
        for gw in self.cfg.initial.gateways():
            dst = "0.0.0.0/0" if gw.version == 4 else "::/0"
            dp.add_route(Route(ipaddress.ip_network(dst), sw, gw))

        rx, tx, rxq, txq = self.cfg.host_tap.queues()
        tap = dp.create_tap(
            TapSpec(
                host_if_name=st.name,
                host_mac=st.mac,
                host_mtu=mtu,
                host_netns=f"/proc/{os.getpid()}/ns/net",
                queues=QueueSpec(rx, tx, rxq, txq),
                tag=f"host-{st.name}",
            )
        )
        self._tap_sw = tap
        dp.set_interface_up(tap, True)
        dp.set_unnumbered(sw, tap)
        dp.enable_ip6(tap)
        dp.enable_proxy_arp(tap)
        for a in st.global_addresses():
            dp.punt_redirect(sw, tap, a.address.ip)
        self._configure_host_tap(plan, mtu)

    def _configure_host_tap(self, plan: Plan, mtu: int) -> None:
        """The Linux side of the tap: the uplink's MAC, MTU, addresses (link-local too), routes."""
        st = plan.state
        idx = netlink.link_index(st.name)
        if idx is None:
            raise ManagerError(f"the host tap {st.name} did not appear")
        tap_state = st.model_copy(update={"mtu": mtu, "is_up": True, "promisc": False})
        errors = apply_state(idx, tap_state)
        if errors:
            raise ManagerError(f"host tap configuration failed: {'; '.join(errors)}")
        self._tap_ifindex = idx
        self.log.info("host tap configured", ifindex=idx)

    _uplink_sw = 0xFFFFFFFF
    _tap_sw = 0xFFFFFFFF
    _tap_ifindex = 0

    def _write_info(self, plan: Plan, status: str) -> None:
        """The agent's view (Calico/VPP's VppManagerInfo shape), written atomically."""
        name = plan.state.name
        info: dict[str, Any] = {
            "Status": status,
            "UplinkStatuses": {
                name: {
                    "SwIfIndex": self._uplink_sw,
                    "TapSwIfIndex": self._tap_sw,
                    "LinkIndex": self._tap_ifindex,
                    "Name": name,
                    "IsMain": True,
                    "Mtu": self.cfg.uplink.mtu or plan.state.mtu,
                    "PhysicalNetworkName": self.cfg.uplink.physical_network_name,
                }
            },
            "PhysicalNets": {},
        }
        statefile.write_atomic(self.cfg.info_file, json.dumps(info, indent=2) + "\n", 0o644)


def _remove_stale_socket(path: str) -> None:
    """A socket file left by a dead VPP would make the first connect attempts fail oddly."""
    p = Path(path)
    if p.is_socket():
        p.unlink()


def restore_only(cfg: ManagerConfig) -> int:
    """``--restore-only``: put the uplink back from the state file, touch nothing else."""
    mgr = Manager(cfg, connect=_no_connect)
    saved = statefile.load(cfg.state_file)
    if saved is None:
        raise ManagerError(f"no state file at {cfg.state_file}")
    restore(for_saved(saved.driver, cfg.uplink, saved.uplink), mgr.ctx)
    statefile.save(cfg.state_file, saved.model_copy(update={"vpp_owns_uplink": False}))
    return 0


def _no_connect(sock: str, api_dir: Path | None) -> Dataplane:
    raise DataplaneError("no dataplane in restore-only mode")
