"""What deploy/'s files name, read from them: the commands the image must run, the CANOPY_*
settings they set, the probes, the queues, the metrics. tests/test_deploy.py holds these to
the code; deploy/check/run.sh runs the programs in the image itself.

    python -m deploy.check.manifests programs   # one program a line, and `python -m` modules
"""
from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field

import yaml

from shared.config import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"


@dataclass
class Process:
    """One Canopy container: where it is defined, its command, its probes' commands and
    HTTP paths, and the environment it is given (names only)."""
    where: str
    command: list[str]
    probes: list[list[str]] = field(default_factory=list)
    http_probes: list[tuple[str, str]] = field(default_factory=list)  # (path, port)
    env: set[str] = field(default_factory=set)
    ports: dict[str, int] = field(default_factory=dict)

    def queues(self) -> set[str]:
        if "celery" not in self.command[:1] or "-Q" not in self.command:
            return set()
        return set(self.command[self.command.index("-Q") + 1].split(","))

    def option(self, name: str) -> str | None:
        return self.command[self.command.index(name) + 1] if name in self.command else None


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def _probe_argv(test) -> list[str]:
    """A Compose healthcheck's `test` (or a Kubernetes exec probe) as argv, shells unwrapped."""
    kind, *rest = test if test[0] in ("CMD", "CMD-SHELL") else ("CMD", *test)
    if kind == "CMD-SHELL":
        return ["sh", "-c", rest[0]]
    return list(rest)


def compose_processes() -> list[Process]:
    out = []
    for name, service in compose()["services"].items():
        if "build" not in service:  # postgres, redis, minio: not this image
            continue
        test = service.get("healthcheck", {}).get("test")
        out.append(Process(f"compose:{name}", list(service["command"]),
                           probes=[_probe_argv(test)] if test else [],
                           env=set(service.get("environment") or {})))
    return out


def k8s_documents() -> list[dict]:
    return [doc for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s_processes() -> list[Process]:
    out = []
    for doc in k8s_documents():
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            process = Process(f"k8s:{doc['metadata']['name']}", list(container["command"]),
                              env={e["name"] for e in container.get("env", [])},
                              ports={p["name"]: p["containerPort"] for p in container.get("ports", [])})
            for key in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = container.get(key) or {}
                if "exec" in probe:
                    process.probes.append(_probe_argv(probe["exec"]["command"]))
                if "httpGet" in probe:
                    process.http_probes.append((probe["httpGet"]["path"], probe["httpGet"]["port"]))
            out.append(process)
    return out


def programs() -> set[str]:
    """Every program a command or probe starts (the shell's own commands included), and
    `python -m` modules as `python -m NAME`."""
    found = set()
    for process in compose_processes() + k8s_processes():
        for argv in [process.command, *process.probes]:
            if argv[:2] == ["sh", "-c"]:
                argv = shlex.split(argv[2])
            found.add(argv[0])
            if argv[:2] == ["python", "-m"]:
                found.add(f"python -m {argv[2]}")
    return found


def settings_read() -> set[str]:
    """The CANOPY_* variables shared/config.py reads (its ENV_VARS names each one)."""
    return set(re.findall(r'"(CANOPY_[A-Z0-9_]+)"', (REPO_ROOT / "shared" / "config.py").read_text()))


def canopy_variables() -> dict[str, set[str]]:
    """file -> the CANOPY_* names deploy/ sets there."""
    text = (DEPLOY / "docker-compose.yml").read_text()  # also the ${VARIABLES} it substitutes
    names = {"docker-compose.yml": set(compose()["x-canopy-env"]) | set(re.findall(r"\$\{(\w+)", text))}
    for process in compose_processes() + k8s_processes():
        names.setdefault(process.where, set()).update(process.env)
    for doc in k8s_documents():
        if doc["kind"] in ("ConfigMap", "Secret"):
            names[f"k8s:{doc['metadata']['name']}"] = set(doc.get("data") or doc.get("stringData"))
    readme = (DEPLOY / "README.md").read_text()
    names["README.md"] = set(re.findall(r"^(CANOPY_[A-Z0-9_]+)=", readme, re.M))
    return {where: {n for n in found if n.startswith("CANOPY_")} for where, found in names.items()}


def dashboard_metrics() -> set[str]:
    """The canopy_* series the Grafana dashboard queries."""
    text = (DEPLOY / "grafana-dashboard.json").read_text()
    return set(re.findall(r"\b(canopy_[a-z0-9_]+)", text))


def served_metrics(exposition: str) -> set[str]:
    """The series names a /metrics text serves, with the suffixes its types add (a counter
    with no sample yet still has its TYPE line)."""
    names = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", exposition, re.M))
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)", exposition, re.M):
        suffixes = {"counter": ["", "_total", "_created"],
                    "histogram": ["_bucket", "_sum", "_count", "_created"],
                    "summary": ["", "_sum", "_count", "_created"]}.get(kind, [""])
        names.update(name + suffix for suffix in suffixes)
    return names


if __name__ == "__main__":
    if sys.argv[1:] == ["programs"]:
        print("\n".join(sorted(programs())))
