"""Shared output for the benchmark commands: a JSON object or aligned text lines."""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Mapping
from typing import TextIO

Scalar = int | float | str | bool | None


def machine() -> dict[str, Scalar]:
    return {"machine": platform.machine(), "python": platform.python_version()}


def emit(
    title: str, results: Mapping[str, Scalar], as_json: bool, out: TextIO = sys.stdout
) -> None:
    if as_json:
        out.write(json.dumps(dict(results), sort_keys=True) + "\n")
        return
    out.write(f"== {title}\n")
    width = max(len(k) for k in results)
    for k, v in results.items():
        shown = f"{v:.2f}" if isinstance(v, float) else str(v)
        out.write(f"  {k:<{width}}  {shown}\n")
