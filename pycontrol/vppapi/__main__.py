"""``python -m pycontrol.vppapi``: generate from an ``.api`` file (CMake calls this).

    python -m pycontrol.vppapi calico_dnat.api --json out.api.json --c-header out.h \
        --cdef out.cdef [--includedir DIR ...] [--builtin-only]

A malformed file exits 1 with ``file:line: message`` on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pycontrol.vppapi import gen_c, gen_cdef, gen_json
from pycontrol.vppapi.loader import load
from pycontrol.vppapi.model import ApiError


def _write(path: Path, text: str) -> None:
    # only touch the file when it changes, so incremental builds stay incremental
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pycontrol.vppapi", description=__doc__)
    ap.add_argument("api", type=Path)
    ap.add_argument("--json", type=Path, help="write the .api.json (vppapigen's format)")
    ap.add_argument("--c-header", type=Path, help="write the packed C structs header")
    ap.add_argument("--cdef", type=Path, help="write the cffi cdef")
    ap.add_argument("--includedir", action="append", default=None, help="where imports live")
    ap.add_argument("--builtin-only", action="store_true", help="ignore VPP's .api files")
    args = ap.parse_args(argv)
    try:
        m = load(args.api, include_dirs=args.includedir, builtin_only=args.builtin_only)
    except ApiError as e:
        print(e, file=sys.stderr)
        return 1
    if args.json:
        _write(args.json, gen_json.generate(m) + "\n")
    if args.c_header:
        _write(args.c_header, gen_c.generate(m))
    if args.cdef:
        _write(args.cdef, gen_cdef.generate(m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
