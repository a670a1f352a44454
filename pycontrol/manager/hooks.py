"""Optional operator commands at fixed points (Calico/VPP's ``CALICOVPP_HOOK_*``).

Each hook is a shell script run as ``bash -c SCRIPT HOOK_NAME UPLINK`` (``/bin/sh`` where
there is no bash), as Calico/VPP runs them, after placeholder
substitution (the same placeholders as the startup.conf template). A failing hook is logged,
never fatal: a hook that restarts NetworkManager must not stop the host getting its network
back.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping

from pycontrol import log
from pycontrol.manager.config import HOOK_VARS
from pycontrol.manager.startup_conf import PlaceholderValues, substitute

HOOK_TIMEOUT = 120.0


def render(hooks: Mapping[str, str], values: PlaceholderValues) -> dict[str, str]:
    """Substitute placeholders in every hook up front, so a bad one fails before any change."""
    return {k: substitute(v, values, HOOK_VARS[k]) for k, v in hooks.items()}


def run(hooks: Mapping[str, str], name: str, uplink: str) -> None:
    script = hooks.get(name)
    if not script:
        return
    lg = log.get("manager.hooks").bind(hook=name)
    try:
        r = subprocess.run(
            [shutil.which("bash") or "/bin/sh", "-c", script, name, uplink],
            check=False,
            timeout=HOOK_TIMEOUT,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        lg.warning("hook failed", error=str(e))
        return
    if r.returncode != 0:
        lg.warning("hook failed", rc=r.returncode, stderr=r.stderr.strip()[-2000:])
    else:
        lg.info("hook ran")
