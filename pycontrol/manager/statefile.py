"""Atomic save/load of the uplink state (and of the agent's info file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from pycontrol.manager.errors import ManagerError
from pycontrol.manager.linux_state import SavedState


def write_atomic(path: Path, data: str, mode: int = 0o600) -> None:
    """Write then rename: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def save(path: Path, state: SavedState) -> None:
    write_atomic(path, state.model_dump_json(indent=2) + "\n")


def load(path: Path) -> SavedState | None:
    """The saved state, or None when there is no file. A corrupt file is an error."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return SavedState.model_validate_json(text)
    except ValidationError as e:
        raise ManagerError(f"state file {path} is unreadable: {e}") from e
