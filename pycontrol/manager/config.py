"""The manager's configuration: typed, validated, from Calico/VPP's environment variables + CLI.

Environment variables keep Calico/VPP's names and JSON shapes (``NODENAME``,
``CALICOVPP_INTERFACES``, ``CALICOVPP_CONFIG_TEMPLATE``, ``CALICOVPP_CONFIG_EXEC_TEMPLATE``,
``CALICOVPP_INITIAL_CONFIG``, ``SERVICE_PREFIX``, ``CALICOVPP_HOOK_*``,
``CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT``, the deprecated ``CALICOVPP_INTERFACE`` /
``CALICOVPP_NATIVE_DRIVER``). Every error names the variable and the field.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pycontrol.manager.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

IFNAME_RE = re.compile(r"^[^/\s:]{1,15}$")
PCI_RE = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")


class Driver(enum.StrEnum):
    AF_PACKET = "af_packet"
    AF_XDP = "af_xdp"
    VIRTIO = "virtio"
    DPDK = "dpdk"


class RxMode(enum.StrEnum):
    POLLING = "polling"
    INTERRUPT = "interrupt"
    ADAPTIVE = "adaptive"


class _Json(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class InterfaceSpec(_Json):
    """Queue specification (Calico's ``InterfaceSpec``); 0 means "default"."""

    rx: int = Field(default=1, ge=0, le=64)
    tx: int = Field(default=1, ge=0, le=64)
    rxqsz: int = Field(default=1024, ge=0, le=32768)
    txqsz: int = Field(default=1024, ge=0, le=32768)
    isl3: bool | None = None
    rx_mode: RxMode | None = Field(default=None, alias="rxMode")

    @field_validator("rxqsz", "txqsz")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v and v & (v - 1):
            raise ValueError(f"queue size {v} is not a power of two")
        return v

    def queues(self) -> tuple[int, int, int, int]:
        """(rx, tx, rxqsz, txqsz) with Calico's defaults for zero values."""
        return (self.rx or 1, self.tx or 1, self.rxqsz or 1024, self.txqsz or 1024)


class UplinkInterfaceSpec(InterfaceSpec):
    interface_name: str = Field(alias="interfaceName")
    vpp_driver: Driver | None = Field(default=None, alias="vppDriver")
    new_driver: str | None = Field(default=None, alias="newDriver")
    mtu: int | None = Field(default=None, ge=576, le=9216)
    is_main: bool = Field(default=True, alias="isMain")
    physical_network_name: str = Field(default="", alias="physicalNetworkName")
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("interface_name")
    @classmethod
    def _ifname(cls, v: str) -> str:
        if not IFNAME_RE.match(v):
            raise ValueError(f"{v!r} is not a valid Linux interface name")
        return v

    @field_validator("vpp_driver", mode="before")
    @classmethod
    def _empty_driver(cls, v: object) -> object:
        return None if v == "" else v


class InterfacesConfig(_Json):
    """``CALICOVPP_INTERFACES``."""

    uplink_interfaces: tuple[UplinkInterfaceSpec, ...] = Field(default=(), alias="uplinkInterfaces")
    vpp_host_tap_spec: InterfaceSpec = Field(default_factory=InterfaceSpec, alias="vppHostTapSpec")
    default_pod_if_spec: InterfaceSpec | None = Field(default=None, alias="defaultPodIfSpec")
    max_pod_if_spec: InterfaceSpec | None = Field(default=None, alias="maxPodIfSpec")


class InitialConfig(_Json):
    """``CALICOVPP_INITIAL_CONFIG`` (the fields the agent uses are accepted and ignored here)."""

    vpp_startup_sleep_seconds: int = Field(default=0, ge=0, le=600, alias="vppStartupSleepSeconds")
    core_pattern: str = Field(default="", alias="corePattern")
    extra_addr_count: int = Field(default=0, ge=0, alias="extraAddrCount")
    if_config_save_path: str = Field(default="", alias="ifConfigSavePath")
    default_gws: str = Field(default="", alias="defaultGWs")
    redirect_to_host_rules: list[dict[str, Any]] = Field(
        default_factory=list, alias="redirectToHostRules"
    )
    prometheus_listen_endpoint: str | None = Field(default=None, alias="prometheusListenEndpoint")
    prometheus_record_metric_interval: Any = Field(
        default=None, alias="prometheusRecordMetricInterval"
    )
    prometheus_stats_prefix: str | None = Field(default=None, alias="prometheusStatsPrefix")
    ip4_neighbors_max_number: int | None = Field(default=None, alias="ip4NeighborsMaxNumber")
    ip6_neighbors_max_number: int | None = Field(default=None, alias="ip6NeighborsMaxNumber")
    ip4_neighbors_max_age: int | None = Field(default=None, alias="ip4NeighborsMaxAge")
    ip6_neighbors_max_age: int | None = Field(default=None, alias="ip6NeighborsMaxAge")
    health_check_port: int | None = Field(default=None, alias="healthCheckPort")
    capture_server_port: int | None = Field(default=None, alias="captureServerPort")

    def gateways(self) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
        out = []
        for s in self.default_gws.split(","):
            if s.strip():
                out.append(ipaddress.ip_address(s.strip()))
        return tuple(out)

    @field_validator("default_gws")
    @classmethod
    def _gws(cls, v: str) -> str:
        for s in v.split(","):
            if s.strip():
                try:
                    ipaddress.ip_address(s.strip())
                except ValueError:
                    raise ValueError(f"{s.strip()!r} is not an IP address") from None
        return v


HOOK_VARS = {
    "before_if_read": "CALICOVPP_HOOK_BEFORE_IF_READ",
    "before_vpp_run": "CALICOVPP_HOOK_BEFORE_VPP_RUN",
    "vpp_running": "CALICOVPP_HOOK_VPP_RUNNING",
    "vpp_done_ok": "CALICOVPP_HOOK_VPP_DONE_OK",
    "vpp_errored": "CALICOVPP_HOOK_VPP_ERRORED",
}


@dataclass(frozen=True)
class CliOverrides:
    """Options given on the command line; they win over the environment."""

    node_name: str | None = None
    uplink: str | None = None
    driver: str | None = None
    vpp_binary: str | None = None
    config_template_file: Path | None = None
    startup_conf: Path | None = None
    state_file: Path | None = None
    info_file: Path | None = None
    vpp_netns: str | None = None
    api_timeout: float | None = None
    grace_period: float | None = None
    api_dir: Path | None = None


@dataclass(frozen=True)
class ManagerConfig:
    node_name: str
    uplink: UplinkInterfaceSpec
    host_tap: InterfaceSpec
    config_template: str
    config_exec_template: str
    initial: InitialConfig
    service_prefixes: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    vpp_binary: str = "vpp"
    startup_conf: Path = Path("/etc/vpp/startup.conf")
    startup_exec: Path = Path("/etc/vpp/startup.exec")
    state_file: Path = Path("/var/run/vpp/pycontrol-uplink-state.json")
    info_file: Path = Path("/var/run/vpp/vppmanagerinfofile")
    vpp_netns: str = "calico-vpp-ns"
    api_timeout: float = 30.0
    grace_period: float = 10.0
    api_dir: Path | None = None
    hooks: dict[str, str] = field(default_factory=dict)
    node_annotations: dict[str, str] = field(default_factory=dict)


def _json_var(env: Mapping[str, str], var: str) -> Any:
    raw = env.get(var, "").strip()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise ConfigError(var, None, f"not valid JSON: {e}") from e


def _model(cls: type[M], env: Mapping[str, str], var: str) -> M:
    data = _json_var(env, var)
    try:
        return cls.model_validate(data if data is not None else {})
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or None
        raise ConfigError(var, loc, err["msg"]) from e


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")


def parse_duration(var: str, raw: str) -> float:
    """Go-style duration (``10s``, ``500ms``, ``1m``) or plain seconds."""
    m = _DURATION.match(raw.strip())
    if not m:
        raise ConfigError(var, None, f"{raw!r} is not a duration (e.g. 10s, 500ms)")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[m.group(2)]
    return float(m.group(1)) * scale


def _prefixes(
    env: Mapping[str, str], var: str
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    out = []
    for s in env.get(var, "").split(","):
        if s.strip():
            try:
                out.append(ipaddress.ip_network(s.strip()))
            except ValueError as e:
                raise ConfigError(var, None, f"{s.strip()!r}: {e}") from e
    return tuple(out)


def _select_uplink(
    env: Mapping[str, str], ifaces: InterfacesConfig, cli: CliOverrides
) -> UplinkInterfaceSpec:
    var = "CALICOVPP_INTERFACES"
    uplinks = list(ifaces.uplink_interfaces)
    names = [u.interface_name for u in uplinks]
    if len(set(names)) != len(names):
        raise ConfigError(var, "uplinkInterfaces", f"an interface is listed twice: {names}")
    if len(uplinks) > 1:
        raise ConfigError(
            var, "uplinkInterfaces", "only one uplink is supported by this manager (see docs)"
        )
    legacy_if = env.get("CALICOVPP_INTERFACE", "").strip()
    legacy_drv = env.get("CALICOVPP_NATIVE_DRIVER", "").strip()
    if uplinks:
        up = uplinks[0]
        if legacy_if and legacy_if != up.interface_name:
            raise ConfigError(
                "CALICOVPP_INTERFACE",
                None,
                f"{legacy_if!r} conflicts with CALICOVPP_INTERFACES uplinkInterfaces[0]."
                f"interfaceName {up.interface_name!r}",
            )
    elif legacy_if or cli.uplink:
        fields: dict[str, Any] = {"interfaceName": cli.uplink or legacy_if}
        if legacy_drv:
            fields["vppDriver"] = legacy_drv
        try:
            up = UplinkInterfaceSpec.model_validate(fields)
        except ValidationError as e:
            src = "--uplink" if cli.uplink else "CALICOVPP_INTERFACE"
            raise ConfigError(src, None, e.errors()[0]["msg"]) from e
    else:
        raise ConfigError(var, "uplinkInterfaces", "no uplink interface configured")
    if cli.uplink and cli.uplink != up.interface_name:
        raise ConfigError(
            "--uplink", None, f"{cli.uplink!r} conflicts with configured {up.interface_name!r}"
        )
    if cli.driver:
        try:
            drv = Driver(cli.driver)
        except ValueError:
            raise ConfigError(
                "--driver", None, f"unknown driver {cli.driver!r} ({', '.join(Driver)})"
            ) from None
        if up.vpp_driver is not None and up.vpp_driver != drv:
            raise ConfigError(
                "--driver", None, f"{drv} conflicts with configured vppDriver {up.vpp_driver}"
            )
        up = up.model_copy(update={"vpp_driver": drv})
    return up


def load(env: Mapping[str, str], cli: CliOverrides | None = None) -> ManagerConfig:
    """Build and validate the whole configuration. Pure: touches nothing on the host."""
    cli = cli or CliOverrides()
    node = cli.node_name or env.get("NODENAME", "").strip()
    if not node:
        raise ConfigError("NODENAME", None, "required (or --node-name)")
    ifaces = _model(InterfacesConfig, env, "CALICOVPP_INTERFACES")
    initial = _model(InitialConfig, env, "CALICOVPP_INITIAL_CONFIG")
    uplink = _select_uplink(env, ifaces, cli)

    if cli.config_template_file is not None:
        try:
            template = cli.config_template_file.read_text()
        except OSError as e:
            raise ConfigError("--config-template-file", None, str(e)) from e
        if env.get("CALICOVPP_CONFIG_TEMPLATE", "").strip():
            raise ConfigError(
                "--config-template-file", None, "conflicts with CALICOVPP_CONFIG_TEMPLATE"
            )
    else:
        template = env.get("CALICOVPP_CONFIG_TEMPLATE", "")
    if not template.strip():
        raise ConfigError("CALICOVPP_CONFIG_TEMPLATE", None, "required (or --config-template-file)")

    annotations_raw = _json_var(env, "CALICOVPP_NODE_ANNOTATIONS") or {}
    if not isinstance(annotations_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations_raw.items()
    ):
        raise ConfigError("CALICOVPP_NODE_ANNOTATIONS", None, "must be a JSON object of strings")

    grace = cli.grace_period
    if grace is None and env.get("CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT", "").strip():
        grace = parse_duration(
            "CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT", env["CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT"]
        )
    if grace is not None and not 0 < grace <= 600:
        raise ConfigError("--grace-period", None, f"{grace} is not in (0, 600] seconds")
    if cli.api_timeout is not None and not 0 < cli.api_timeout <= 3600:
        raise ConfigError("--api-timeout", None, f"{cli.api_timeout} is not in (0, 3600] seconds")
    netns = cli.vpp_netns or "calico-vpp-ns"
    if not IFNAME_RE.match(netns) and not re.match(r"^[A-Za-z0-9_.-]{1,64}$", netns):
        raise ConfigError("--vpp-netns", None, f"{netns!r} is not a valid namespace name")

    hooks = {k: env[v] for k, v in HOOK_VARS.items() if env.get(v, "").strip()}
    state_file = cli.state_file or (
        Path(initial.if_config_save_path)
        if initial.if_config_save_path
        else Path("/var/run/vpp/pycontrol-uplink-state.json")
    )
    startup_conf = cli.startup_conf or Path("/etc/vpp/startup.conf")
    return ManagerConfig(
        node_name=node,
        uplink=uplink,
        host_tap=ifaces.vpp_host_tap_spec,
        config_template=template,
        config_exec_template=env.get("CALICOVPP_CONFIG_EXEC_TEMPLATE", ""),
        initial=initial,
        service_prefixes=_prefixes(env, "SERVICE_PREFIX"),
        vpp_binary=cli.vpp_binary or "vpp",
        startup_conf=startup_conf,
        startup_exec=startup_conf.with_name("startup.exec"),
        state_file=state_file,
        info_file=cli.info_file or Path("/var/run/vpp/vppmanagerinfofile"),
        vpp_netns=netns,
        api_timeout=cli.api_timeout or 30.0,
        grace_period=grace or 10.0,
        api_dir=cli.api_dir,
        hooks=hooks,
        node_annotations=dict(annotations_raw),
    )
