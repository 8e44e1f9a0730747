"""Which processes listen on a TCP port, so "port already in use" can say whom to stop. Standard library only.

Linux: the LISTEN sockets in /proc/net/tcp{,6}, matched to /proc/<pid>/fd. Elsewhere: `lsof`, if present.
Processes of other users are invisible to both without root; `describe_holders` says so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
PROC = Path("/proc")
TCP_LISTEN = "0A"  # the `st` column of /proc/net/tcp


def is_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: ignore TIME_WAIT
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def answers(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str


def listening_inodes(port: int, proc: Path = PROC) -> set[str]:
    """Inodes of the sockets listening on `port`, on any address, IPv4 or IPv6."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == TCP_LISTEN:
                inodes.add(fields[9])
    return inodes


def _command_line(pid: int, proc: Path = PROC) -> str:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part) or "?"


def _holders_from_proc(port: int, proc: Path = PROC) -> list[Holder]:
    wanted = {f"socket:[{inode}]" for inode in listening_inodes(port, proc)}
    holders = []
    for entry in proc.iterdir() if wanted else ():
        if not entry.name.isdigit():
            continue
        if _open_files(entry) & wanted:
            holders.append(Holder(int(entry.name), _command_line(int(entry.name), proc)))
    return holders


def _open_files(process: Path) -> set[str]:
    """What a process's descriptors point at; nothing for another user's process or one that exited."""
    try:
        descriptors = list((process / "fd").iterdir())
    except OSError:
        return set()
    targets = set()
    for fd in descriptors:
        try:
            targets.add(os.readlink(fd))
        except OSError:
            continue  # closed meanwhile
    return targets


def _holders_from_lsof(port: int) -> list[Holder]:
    lsof = shutil.which("lsof")
    if lsof is None:
        return []
    listed = subprocess.run(
        [lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-t"], capture_output=True, text=True, check=False
    )
    holders = []
    for pid in sorted({int(line) for line in listed.stdout.split()}):
        ps = ["ps", "-o", "command=", "-p", str(pid)]
        command = subprocess.run(ps, capture_output=True, text=True, check=False).stdout.strip()
        holders.append(Holder(pid, command or "?"))
    return holders


def port_holders(port: int) -> list[Holder]:
    """The processes we can see listening on `port` (ours and, as root, everyone's)."""
    if (PROC / "net" / "tcp").exists():
        return _holders_from_proc(port)
    return _holders_from_lsof(port)


def describe_holders(port: int, option: str) -> str:
    """One paragraph: who holds `port` and how to stop them, or how to pick another port with `option`."""
    holders = port_holders(port)
    if not holders:
        return (
            f"port {port} is in use by a process we cannot see (another user's? `sudo lsof -iTCP:{port} "
            f"-sTCP:LISTEN` names it); stop it, or choose another port with {option}"
        )
    listed = "\n".join(f"    PID {holder.pid}: {holder.command}" for holder in holders)
    pids = " ".join(str(holder.pid) for holder in holders)
    return f"port {port} is in use by\n{listed}\n  stop it (`kill {pids}`) or choose another port: {option}"
