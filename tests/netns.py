"""Hosts of their own for farm tests: a network namespace joined to this one by a veth pair.

A process run with `host.wrap` sees only its own loopback and its veth (10.x.y.4i+2/30);
the farm's services are reached at the host side of that veth (10.x.y.4i+1), where a socat
forwards each service's port to its loopback listener. Taking the host side down cuts the
host off, as an unplugged machine. Only namespaces and links made here are touched, and
`delete()` removes them whatever happened.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from urllib.parse import urlsplit


def usable() -> str | None:
    """Why namespaced hosts cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = [tool for tool in ("ip", "socat") if shutil.which(tool) is None]
    return f"missing {', '.join(missing)}" if missing else None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


class Host:
    def __init__(self, index: int, subnet: tuple[int, int]):
        token = secrets.token_hex(2)
        self.ns = f"canopy-{token}-{index}"
        self.outer, self.inner = f"cv{token}{index}o", f"cv{token}{index}i"  # <= 15 chars
        prefix = f"10.{subnet[0]}.{subnet[1]}"
        self.gateway, self.address = f"{prefix}.{4 * index + 1}", f"{prefix}.{4 * index + 2}"
        self.wrap = ["ip", "netns", "exec", self.ns]
        self.forwarders: list[subprocess.Popen] = []
        self.made: list[str] = []

    def create(self) -> "Host":
        _ip("netns", "add", self.ns)
        self.made.append("netns")
        _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        self.made.append("link")
        _ip("link", "set", self.inner, "netns", self.ns)
        _ip("addr", "add", f"{self.gateway}/30", "dev", self.outer)
        _ip("link", "set", self.outer, "up")
        for args in (("addr", "add", f"{self.address}/30", "dev", self.inner),
                     ("link", "set", self.inner, "up"), ("link", "set", "lo", "up")):
            _ip("netns", "exec", self.ns, "ip", *args)
        return self

    def reach(self, url: str) -> str:
        """`url` of a service on this machine's loopback, as this host reaches it."""
        port = urlsplit(url.replace("postgresql+psycopg", "http", 1)).port
        self.forwarders.append(subprocess.Popen(
            ["socat", f"TCP-LISTEN:{port},bind={self.gateway},fork,reuseaddr",
             f"TCP:127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return url.replace("127.0.0.1", self.gateway)

    def cut(self) -> None:
        """Unplug the host: nothing passes its link any more."""
        _ip("link", "set", self.outer, "down")

    def owns(self, pid: int) -> bool:
        """Whether process `pid` runs on this host."""
        found = subprocess.run(["ip", "netns", "identify", str(pid)], capture_output=True,
                               text=True)
        return found.stdout.strip() == self.ns

    def delete(self) -> None:
        for forwarder in self.forwarders:
            forwarder.kill()
            forwarder.wait()
        if "link" in self.made:  # gone with the namespace already, unless never moved
            subprocess.run(["ip", "link", "del", self.outer], capture_output=True)
        if "netns" in self.made:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
