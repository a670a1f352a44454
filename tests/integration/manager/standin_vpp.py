"""A stand-in for the VPP executable, at the process level only (VPP is not installable here).

Run as ``standin_vpp.py -c STARTUP_CONF``, like VPP. It reads ``socksvr { socket-name }``
from the startup.conf it is given and behaves according to ``STANDIN_VPP_MODE``:

- ``serve`` (default): creates and listens on the API socket path, accepts connections,
  exits 0 on SIGTERM/SIGINT (removing the socket);
- ``ignore-term``: as ``serve`` but ignores SIGTERM (a hung VPP: needs SIGKILL);
- ``no-socket``: never creates its API socket (a VPP that never comes up);
- ``exit``: exits with status 3 at once.

In every mode SIGUSR1 makes it crash (SIGSEGV, no core). Events (start with pid and netns,
signals received) are appended as JSON lines to ``STANDIN_VPP_EVENTS`` when set.
"""

from __future__ import annotations

import json
import os
import re
import resource
import select
import signal
import socket
import sys
import time


def event(**kw: object) -> None:
    path = os.environ.get("STANDIN_VPP_EVENTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(kw) + "\n")


def api_socket(conf_path: str) -> str:
    with open(conf_path) as f:
        text = f.read()
    m = re.search(r"socksvr\s*\{[^}]*socket-name\s+(\S+)", text)
    return m.group(1) if m else "/run/vpp/api.sock"


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] != "-c":
        print("usage: standin_vpp.py -c startup.conf", file=sys.stderr)
        return 64
    mode = os.environ.get("STANDIN_VPP_MODE", "serve")
    sock_path = api_socket(sys.argv[2])
    stop = {"flag": False}

    def on_term(signo: int, _frame: object) -> None:
        event(event="signal", signal=signo)
        if mode != "ignore-term":
            stop["flag"] = True

    def on_crash(signo: int, _frame: object) -> None:
        event(event="crash")
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGSEGV)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGUSR1, on_crash)
    event(
        event="start",
        pid=os.getpid(),
        netns=os.readlink("/proc/self/ns/net"),
        mode=mode,
        socket=sock_path,
    )
    if mode == "exit":
        return 3

    srv = None
    if mode != "no-socket":
        os.makedirs(os.path.dirname(sock_path), exist_ok=True)
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(sock_path)
        srv.listen(8)
    clients = []
    while not stop["flag"]:
        if srv is None:
            time.sleep(0.05)
            continue
        try:
            ready, _, _ = select.select([srv], [], [], 0.05)
        except InterruptedError:
            continue
        if ready:
            conn, _ = srv.accept()
            clients.append(conn)
            event(event="api-client")
    if srv is not None:
        srv.close()
        os.unlink(sock_path)
    event(event="exit", status=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
