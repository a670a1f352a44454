"""The instruction set the native classifier's lookup runs with.

Portable x86-64 builds carry the lookup three times (SSE2, AVX2, AVX-512) and use the best
one the CPU runs; a ``-march=native`` build (or one for another architecture) has one,
named "build". Tests and benchmarks select each in turn to compare them.
"""

from __future__ import annotations

from pycontrol._native import ffi, lib

NAMES = ("build", "sse2", "avx2", "avx512")


def current() -> str:
    """The lookup ``cp_mfc_classify_burst`` runs now."""
    return str(ffi.string(lib.cp_mfc_isa()).decode())


def select(name: str | None) -> None:
    """Force one lookup for the whole process; None returns to the best."""
    if lib.cp_mfc_isa_select(name.encode() if name is not None else ffi.NULL) != 0:
        raise ValueError(f"lookup {name!r}: not in this build or not run by this CPU")


def available() -> list[str]:
    """The lookups this build has and this CPU runs (the selection is left as it was)."""
    before = current()
    try:
        return [n for n in NAMES if lib.cp_mfc_isa_select(n.encode()) == 0]
    finally:
        select(before)
