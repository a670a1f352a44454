"""``pycontrol manager``: arguments, configuration loading, exit codes."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pycontrol import log
from pycontrol.dataplane import vpp
from pycontrol.manager import config
from pycontrol.manager.errors import ConfigError, ManagerError
from pycontrol.manager.lifecycle import Connect, Manager, restore_only

HELP = "start VPP on the node's uplink and restore the host's network when it stops"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vpp-binary", help="VPP executable (default: vpp on PATH)")
    p.add_argument("--node-name", help="node name (default: $NODENAME)")
    p.add_argument("--uplink", help="uplink interface (default: CALICOVPP_INTERFACES)")
    p.add_argument("--driver", help="af_packet | af_xdp | virtio | dpdk (default: auto)")
    p.add_argument("--config-template-file", type=Path, help="startup.conf template file")
    p.add_argument("--startup-conf", type=Path, help="where to write VPP's startup.conf")
    p.add_argument("--state-file", type=Path, help="saved uplink state (JSON)")
    p.add_argument("--info-file", type=Path, help="info file for the agent (JSON)")
    p.add_argument("--vpp-netns", help="network namespace VPP runs in (default calico-vpp-ns)")
    p.add_argument("--vpp-api-dir", type=Path, help="directory of VPP's *.api.json files")
    p.add_argument("--api-timeout", type=float, help="seconds to wait for VPP's API (30)")
    p.add_argument("--grace-period", type=float, help="seconds between SIGTERM and SIGKILL (10)")
    p.add_argument(
        "--restore-only",
        action="store_true",
        help="restore the uplink from the state file and exit (after a crash of the manager)",
    )


def overrides(args: argparse.Namespace) -> config.CliOverrides:
    return config.CliOverrides(
        node_name=args.node_name,
        uplink=args.uplink,
        driver=args.driver,
        vpp_binary=args.vpp_binary,
        config_template_file=args.config_template_file,
        startup_conf=args.startup_conf,
        state_file=args.state_file,
        info_file=args.info_file,
        vpp_netns=args.vpp_netns,
        api_timeout=args.api_timeout,
        grace_period=args.grace_period,
        api_dir=args.vpp_api_dir,
    )


def run(args: argparse.Namespace, connect: Connect | None = None) -> int:
    """Exit codes: 0 clean stop, 1 VPP failed or restore failed, 2 bad configuration/uplink."""
    lg = log.get("manager")
    try:
        cfg = config.load(os.environ, overrides(args))
        if args.restore_only:
            return restore_only(cfg)
        if connect is None:  # the real VPP API: its definitions must load before any change
            return Manager(cfg, vpp.connect, preflight=lambda: vpp.preflight(cfg.api_dir)).run()
        return Manager(cfg, connect).run()
    except ConfigError as e:
        lg.error("configuration error", error=str(e))
        return 2
    except ManagerError as e:
        lg.error("manager error", error=str(e))
        return 2


def main(args: argparse.Namespace) -> int:
    return run(args)
