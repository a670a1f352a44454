"""Generate the C source of the cffi extension ``pycontrol._native``.

Called by CMake (no setuptools): concatenates the components' ``.cdef`` files and
emits API-mode, out-of-line C with cffi's own source generator.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cffi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--output", required=True, type=Path)
    ap.add_argument("--include", action="append", default=[])
    ap.add_argument("--cdef", nargs="+", required=True, type=Path)
    args = ap.parse_args()

    ffi = cffi.FFI()
    for path in args.cdef:
        ffi.cdef(path.read_text(), override=False)
    source = "\n".join(f'#include "{h}"' for h in args.include)
    ffi.set_source("pycontrol._native", source)
    tmp = args.output.with_suffix(".tmp.c")
    ffi.emit_c_code(str(tmp))
    tmp.replace(args.output)


if __name__ == "__main__":
    main()
