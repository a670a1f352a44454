"""Where the plugins' ``.api`` files are, and their compiled message tables.

Installed wheels carry them in ``pycontrol/vppapi/api/`` (CMake installs them); a source
tree (or the ASan copy of it under ``build/``) finds them in ``vpp-plugins/<m>/``.
``CP_API_DIR`` overrides both.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from pycontrol.vppapi.codec import MessageTable
from pycontrol.vppapi.loader import load
from pycontrol.vppapi.model import ApiModule

PLUGINS = ("calico_dnat", "calico_policy")


def api_file(module: str) -> Path:
    env = os.environ.get("CP_API_DIR")
    here = Path(__file__).resolve().parent
    candidates = [Path(env) / f"{module}.api"] if env else []
    candidates.append(here / "api" / f"{module}.api")
    for up in list(here.parents)[:5]:
        candidates.append(up / "vpp-plugins" / module / f"{module}.api")
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(f"{module}.api not found (looked in {', '.join(map(str, candidates))})")


@cache
def module(name: str) -> ApiModule:
    """The parsed module (imports from the built-in VPP type definitions: the layouts and
    CRCs are the same as with VPP's own files)."""
    return load(api_file(name), builtin_only=True)


@cache
def table(name: str) -> MessageTable:
    """The compiled message classes of a plugin (immutable; built once per process)."""
    return MessageTable(module(name))
