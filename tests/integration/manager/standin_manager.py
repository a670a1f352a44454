"""``pycontrol manager`` with the stand-in dataplane: same CLI, same code, API side replaced."""

from __future__ import annotations

import sys

from standin_dataplane import connect

from pycontrol import log
from pycontrol.cli import build_parser
from pycontrol.manager import cli as manager_cli

if __name__ == "__main__":
    args = build_parser().parse_args(sys.argv[1:])
    log.configure(args.log_level, args.log_json)
    sys.exit(manager_cli.run(args, connect=connect))
