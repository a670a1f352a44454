"""Write a generated ClassBench-like rule set and trace as flat ranges for mfc_driver.

    python3 bench/mfc/write_mfc_input.py KIND N PACKETS OUTDIR

OUTDIR/rules: one rule per line, five "lo hi" pairs (sa, da, sp, dp, proto);
OUTDIR/trace: one packet per line, "sa da sp dp proto".
"""

from __future__ import annotations

import sys
from pathlib import Path

from pycontrol.policy import gen


def main(argv: list[str]) -> int:
    kind, n, packets, out = argv[1], int(argv[2]), int(argv[3]), Path(argv[4])
    if kind not in gen.KINDS:
        raise SystemExit(f"KIND is one of {gen.KINDS}")
    out.mkdir(parents=True, exist_ok=True)
    rules = gen.filters(kind, n)  # type: ignore[arg-type]
    trace = gen.trace(rules, packets)
    (out / "rules").write_text(
        "".join(" ".join(f"{lo} {hi}" for lo, hi in r.ranges()) + "\n" for r in rules)
    )
    (out / "trace").write_text("".join(f"{h.sa} {h.da} {h.sp} {h.dp} {h.proto}\n" for h in trace))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
