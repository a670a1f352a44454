"""The ``pycontrol`` command line. Only commands that work exist."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from pycontrol import __version__, log
from pycontrol.manager import cli as manager_cli

# Benchmarks: name -> module under pycontrol.bench. Each module provides
# HELP, add_arguments(parser) and main(args) -> int.
BENCHES: dict[str, str] = {
    "common": "pycontrol.bench.common",
    "api": "pycontrol.bench.api",
    "vpp": "pycontrol.bench.vpp",
    "policy": "pycontrol.bench.policy",
    "dnat": "pycontrol.bench.dnat",
}


class BenchModule(Protocol):
    HELP: str

    def add_arguments(self, p: argparse.ArgumentParser) -> None: ...

    def main(self, args: argparse.Namespace) -> int: ...


def _bench_module(name: str) -> BenchModule:
    return cast(BenchModule, importlib.import_module(BENCHES[name]))


def _bench_all(args: argparse.Namespace) -> int:
    rc = 0
    for name in BENCHES:
        mod = _bench_module(name)
        p = argparse.ArgumentParser()
        mod.add_arguments(p)
        sub = p.parse_args(["--json"] if args.json else [])
        rc |= mod.main(sub)
    return rc


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser("bench", help="fast-path benchmarks (figures vs a peer or baseline)")
    bsub = bench.add_subparsers(dest="bench_cmd", required=True)
    for name in BENCHES:
        mod = _bench_module(name)
        p = bsub.add_parser(name, help=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(handler=mod.main)
    a = bsub.add_parser("all", help="every benchmark with its default arguments")
    a.add_argument("--json", action="store_true", help="one JSON object per benchmark")
    a.set_defaults(handler=_bench_all)


def _add_manager(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("manager", help=manager_cli.HELP)
    manager_cli.add_arguments(p)
    p.set_defaults(handler=manager_cli.main)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="pycontrol", description="Calico/VPP-style node dataplane")
    ap.add_argument("--version", action="version", version=f"pycontrol {__version__}")
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--log-json", action="store_true")
    sub = ap.add_subparsers(dest="cmd", required=True)
    _add_bench(sub)
    _add_manager(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log.configure(args.log_level, args.log_json)
    rc: int = args.handler(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
