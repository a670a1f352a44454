"""VPP's startup.conf: the operator's template, its placeholders, plus the driver's sections.

The template keeps Calico/VPP's placeholders:

- ``__VPP_DATAPLANE_IF__`` / ``__VPP_DATAPLANE_IF_0__``: the uplink's Linux name;
- ``__PCI_DEVICE_ID__`` / ``__PCI_DEVICE_ID_0__``: its PCI id (an error if it has none);
- ``__CPUSET_CPUS_FIRST__``: the first CPU of the manager's cpuset;
- ``__NODE_ANNOTATION:<key>__``: a node annotation (an error if the node has no such key).

Any other ``__NAME__`` is an error, raised before anything on the host changes.

Driver contributions are merged at the top level: a plugin line goes into the ``plugins``
section, other lines into their section (created when the template has none). A template
that disables a plugin the driver needs is a conflict, not silently overridden.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pycontrol.manager.errors import ConfigError

PLACEHOLDER = re.compile(r"__(?P<name>[A-Z][A-Z0-9_]*[A-Z0-9])(?::(?P<arg>[^\s]+?))?__")
DEFAULT_API_SOCKET = "/run/vpp/api.sock"
SRC = "CALICOVPP_CONFIG_TEMPLATE"


@dataclass(frozen=True)
class PlaceholderValues:
    uplink_name: str
    pci_id: str | None
    cpuset_first: str
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DriverSections:
    """What a driver adds to startup.conf."""

    enable_plugins: Sequence[str] = ()
    disable_plugins: Sequence[str] = ()
    sections: Mapping[str, Sequence[str]] = field(default_factory=dict)


def cpuset_first(cgroup_root: Path = Path("/sys/fs/cgroup")) -> str:
    """First CPU of the cgroup's cpuset (as Calico/VPP), else of the affinity mask."""
    for name in ("cpuset.cpus.effective", "cpuset.cpus"):
        try:
            text = (cgroup_root / name).read_text().strip()
        except OSError:
            continue
        if text:
            return re.split(r"[,-]", text, maxsplit=1)[0]
    return str(min(os.sched_getaffinity(0)))


def substitute(template: str, values: PlaceholderValues, source: str = SRC) -> str:
    """Replace every placeholder; an unknown one (or one without a value) is a ConfigError."""

    def repl(m: re.Match[str]) -> str:
        name, arg = m.group("name"), m.group("arg")
        if arg is not None:
            if name != "NODE_ANNOTATION":
                raise ConfigError(source, None, f"unknown placeholder {m.group(0)}")
            if arg not in values.annotations:
                raise ConfigError(source, None, f"{m.group(0)}: the node has no annotation {arg!r}")
            return values.annotations[arg]
        if name in ("VPP_DATAPLANE_IF", "VPP_DATAPLANE_IF_0"):
            return values.uplink_name
        if name in ("PCI_DEVICE_ID", "PCI_DEVICE_ID_0"):
            if not values.pci_id:
                raise ConfigError(
                    source, None, f"{m.group(0)}: uplink {values.uplink_name} has no PCI id"
                )
            return values.pci_id
        if name == "CPUSET_CPUS_FIRST":
            return values.cpuset_first
        raise ConfigError(source, None, f"unknown placeholder {m.group(0)}")

    return PLACEHOLDER.sub(repl, template)


@dataclass(frozen=True)
class Section:
    name: str
    start: int  # offset of the name
    open: int  # offset of "{"
    close: int  # offset of the matching "}"


def _strip_comments(text: str) -> str:
    """Comments blanked to spaces, so offsets stay those of the original text."""
    return re.sub(r"#[^\n]*", lambda m: " " * len(m.group(0)), text)


def parse_sections(text: str, source: str = SRC) -> list[Section]:
    """Top-level ``name { ... }`` sections; unbalanced braces are a ConfigError."""
    clean = _strip_comments(text)
    out: list[Section] = []
    i, n = 0, len(clean)
    word = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*\{")
    while i < n:
        if clean[i].isspace():
            i += 1
            continue
        m = word.match(clean, i)
        if not m:
            line = clean.count("\n", 0, i) + 1
            raise ConfigError(source, None, f"line {line}: expected 'section {{'")
        depth, j = 1, m.end()
        while j < n and depth:
            if clean[j] == "{":
                depth += 1
            elif clean[j] == "}":
                depth -= 1
            j += 1
        if depth:
            raise ConfigError(source, None, f"section {m.group(1)!r} has no closing brace")
        out.append(Section(m.group(1), m.start(1), m.end() - 1, j - 1))
        i = j
    return out


def _body(text: str, s: Section) -> str:
    return _strip_comments(text[s.open + 1 : s.close])


def _find(text: str, name: str) -> Section | None:
    found = [s for s in parse_sections(text) if s.name == name]
    if len(found) > 1:
        raise ConfigError(SRC, None, f"section {name!r} appears twice")
    return found[0] if found else None


def _insert_lines(text: str, name: str, lines: Sequence[str]) -> str:
    s = _find(text, name)
    block = "".join(f"  {ln}\n" for ln in lines)
    if s is None:
        sep = "" if text.endswith("\n") or not text else "\n"
        return f"{text}{sep}{name} {{\n{block}}}\n"
    return text[: s.close] + ("\n" if text[s.close - 1] != "\n" else "") + block + text[s.close :]


def _plugin_state(text: str, plugin: str) -> str | None:
    s = _find(text, "plugins")
    if s is None:
        return None
    m = re.search(rf"plugin\s+{re.escape(plugin)}\s*\{{\s*(enable|disable)", _body(text, s))
    return m.group(1) if m else None


def api_socket(text: str) -> str:
    s = _find(text, "socksvr")
    if s is None:
        return DEFAULT_API_SOCKET
    m = re.search(r"socket-name\s+(\S+)", _body(text, s))
    return m.group(1) if m else DEFAULT_API_SOCKET


def check_supervisable(text: str) -> None:
    """VPP must stay in the foreground: a daemonizing VPP looks like an exit to the manager."""
    s = _find(text, "unix")
    if s is None or not re.search(r"\bnodaemon\b", _body(text, s)):
        raise ConfigError(SRC, "unix", "must contain 'nodaemon' (the manager supervises VPP)")


def render(template: str, values: PlaceholderValues, driver: DriverSections) -> str:
    """The final startup.conf. Raises ConfigError on any problem; pure."""
    text = substitute(template, values)
    parse_sections(text)
    check_supervisable(text)
    for p in driver.enable_plugins:
        if _plugin_state(text, p) == "disable":
            raise ConfigError(SRC, "plugins", f"disables {p}, which the uplink driver needs")
        if _plugin_state(text, p) is None:
            text = _insert_lines(text, "plugins", [f"plugin {p} {{ enable }}"])
    for p in driver.disable_plugins:
        if _plugin_state(text, p) == "enable":
            raise ConfigError(SRC, "plugins", f"enables {p}, which conflicts with the driver")
        if _plugin_state(text, p) is None:
            text = _insert_lines(text, "plugins", [f"plugin {p} {{ disable }}"])
    for name, lines in driver.sections.items():
        text = _insert_lines(text, name, lines)
    if _find(text, "socksvr") is None:
        text = _insert_lines(text, "socksvr", [f"socket-name {DEFAULT_API_SOCKET}"])
    return text
