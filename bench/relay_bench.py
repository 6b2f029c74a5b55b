"""Relay benchmark on loopback; every figure is a ratio to a baseline measured in the same run.

  first upload    time to hash, encrypt, upload and store a mixed-size file set (default 1 GiB),
                  as a ratio to `openssl dgst -sha256` over the same files (goal ≤ 2.5×), and to
                  max(openssl, the disk's write + fsync of as many bytes) measured in the same run
  re-upload       the unchanged set again, as a ratio to the first upload (goal ≤ 0.05×)
  download        the largest blob with curl, relay vs nginx serving the same file (goal ≥ 0.5×)
  64 clients      concurrent small signed requests: p50/p99 latency and errors (goal: zero errors)
  flood           p99 of honest small requests while another address floods unauthenticated 1 GiB
                  bodies, as a ratio to their p99 without the flood (goal ≤ 2; bench/_relay_flood.py)

Shared machines are noisy (other processes take CPU and disk): compare ratios from one run.

nginx is installed from Debian with apt-get when missing (needs root); without it the download
comparison is skipped with a note. Run: `python -m bench relay_bench [--size-mib N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from addon.farm import crypto
from addon.farm import relay_protocol as proto
from addon.farm.hash_cache import HashCache
from addon.farm.relay_client import RelayClient
from addon.farm.relay_transport import SignedTransport
from addon.stacks.keys import make_private_key
from server.relay.local import RelayProcess, free_port
from server.relay.writeback import start_writeback

MiB = 1 << 20


def make_files(root: Path, total: int, seed: int = 7) -> list[Path]:
    """A scene-like mix: one big cache, a few large textures, many mid-size and small files."""
    rng = random.Random(seed)
    sizes = [total // 4, total // 8, total // 16]
    left = total - sum(sizes)
    while left > 0:
        size = min(left, rng.choice([rng.randint(4 << 10, 256 << 10), rng.randint(1 * MiB, 24 * MiB)]))
        sizes.append(size)
        left -= size
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    block = os.urandom(16 * MiB)
    for i, size in enumerate(sizes):
        p = root / f"f{i:04d}.bin"
        with open(p, "wb") as f:
            written = 0
            while written < size:
                n = min(size - written, len(block))
                # Each file distinct: a per-file prefix, then shared random bytes.
                f.write(i.to_bytes(8, "big") + block[8:n] if written == 0 and n >= 8 else block[:n])
                written += n
        paths.append(p)
    return paths


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def openssl_hash_time(paths: list[Path]) -> float:
    cmd = ["openssl", "dgst", "-sha256", *map(str, paths)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # warm the page cache the same way
    return timed(subprocess.run, cmd, check=True, stdout=subprocess.DEVNULL)[0]


def disk_floor_time(directory: Path, total: int) -> tuple[float, float]:
    """Writing and fsyncing as many bytes as the relay must store, on the relay's filesystem.

    Two ways: `dd conv=fsync` (everything into the page cache, then one fsync) and the relay's own
    way (4 MiB writes, writeback started after each, one fsync at the end). Returns both times; the
    faster is the disk's floor: no upload that stores every byte durably can beat it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "disk-floor.bin"
    dd = timed(
        subprocess.run,
        [
            "dd",
            "if=/dev/zero",
            f"of={target}",
            "bs=4M",
            f"count={max(1, total // (4 * MiB))}",
            "conv=fsync",
            "status=none",
        ],
        check=True,
    )[0]
    target.unlink()
    block = os.urandom(4 * MiB)
    t0 = time.perf_counter()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for offset in range(0, total, len(block)):
            n = os.write(fd, block[: min(len(block), total - offset)])
            start_writeback(fd, offset, n)
        os.fsync(fd)
    finally:
        os.close(fd)
    streamed = time.perf_counter() - t0
    target.unlink()
    return dd, streamed


def cpu_seconds(relay_pid: int) -> tuple[float, float] | None:
    """(this process's CPU seconds, the relay's), where /proc and getrusage exist (Linux)."""
    try:
        import resource

        fields = Path(f"/proc/{relay_pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (ImportError, OSError):
        return None
    mine = resource.getrusage(resource.RUSAGE_SELF)
    return mine.ru_utime + mine.ru_stime, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def curl_time(url: str, headers: dict | None = None) -> float:
    args = ["curl", "-sS", "-f", "-o", "/dev/null", url]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    return timed(subprocess.run, args, check=True)[0]


def ensure_nginx() -> str | None:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    if os.geteuid() != 0:
        return None
    print("   installing nginx from Debian (apt-get) for the download baseline ...")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=False, env=env, stdout=subprocess.DEVNULL)
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def nginx_serving(nginx: str, root: Path, work: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""  # the files live in a private temp dir
    conf.write_text(f"""
{user}
worker_processes 1;
error_log {work}/error.log;
pid {work}/nginx.pid;
events {{ worker_connections 256; }}
http {{
  access_log off;
  sendfile on; tcp_nopush on;
  client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
  uwsgi_temp_path {work}; scgi_temp_path {work};
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
""")
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work), "-g", "daemon off;"])
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return proc, port
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"nginx did not start; see {work}/error.log")


async def concurrent_small_requests(url: str, clients: int, per_client: int) -> tuple[list[float], int]:
    """Each client sends `per_client` signed POST /v1/blobs/missing requests on one keep-alive
    connection, one after the other.

    The load generator shares the two cores with the relay, so it must cost far less than the relay:
    requests are signed before the clock starts and sent as raw HTTP/1.1 over asyncio streams (an
    httpx client spends about a millisecond of this one event loop per request, which would be
    counted as relay latency).
    """
    host, port = url.removeprefix("http://").split(":")
    body = b'{"blob_ids":[]}'
    path = "/v1/blobs/missing"
    requests = []
    for _ in range(clients):
        signer = SignedTransport(url, make_private_key())
        raw = []
        for _ in range(per_client):
            headers = signer._headers("POST", path, proto.body_hash(body))
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            raw.append(
                f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n{head}\r\n".encode()
                + body
            )
        requests.append(raw)
        signer.close()
    latencies: list[float] = []
    errors = 0

    async def one_client(raw_requests):
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for raw in raw_requests:
                t0 = time.perf_counter()
                writer.write(raw)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
        except (OSError, asyncio.IncompleteReadError, StopIteration):
            pass  # this and the client's remaining requests count as errors below
        finally:
            writer.close()

    await asyncio.gather(*(one_client(r) for r in requests))
    return latencies, errors + clients * per_client - len(latencies)


def _p99(latencies: list[float]) -> float:
    latencies = sorted(latencies)
    return latencies[max(0, int(len(latencies) * 0.99) - 1)]


def flood_line(relay: RelayProcess, clients: int, per_client: int, rounds: int = 3) -> None:
    """Honest p99 with and without an unauthenticated large-body flood from another address, in
    alternating rounds (the median p99 of each kind), so that drifting load on a shared machine does not
    land on one side only."""
    from bench._relay_flood import Flood

    quiet, loud, errors, offered, floods = [], [], 0, 0, 0
    for _ in range(rounds):
        latencies, n = asyncio.run(concurrent_small_requests(relay.url, clients, per_client))
        quiet.append(_p99(latencies))
        with Flood(relay.port) as flood:
            latencies, m = asyncio.run(concurrent_small_requests(relay.url, clients, per_client))
        loud.append(_p99(latencies))
        errors, offered, floods = errors + n + m, offered + flood.bytes_sent, floods + flood.requests
    ratio = statistics.median(loud) / statistics.median(quiet)
    print(
        f"flood: {clients} honest clients' p99 {statistics.median(loud) * 1000:.1f} ms during a flood of {floods}"
        f" unauthenticated 1 GiB PUTs ({offered / MiB:.0f} MiB offered), {statistics.median(quiet) * 1000:.1f} ms"
        f" without = {ratio:4.2f}× (goal ≤ 2: {'met' if ratio <= 2 else 'not met'}; median of {rounds} rounds each;"
        f" errors {errors})"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench relay_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="total size of the file set (default 1024)")
    parser.add_argument("--workers", type=int, default=4, help="parallel uploads in the client")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients for the latency test")
    parser.add_argument("--requests", type=int, default=50, help="requests per concurrent client")
    parser.add_argument("--flood-clients", type=int, default=16, help="honest clients in the flood test (0: skip)")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir)")
    parser.add_argument(
        "--relay-data",
        type=Path,
        default=None,
        help="relay data directory (e.g. on /dev/shm to separate CPU cost from disk cost)",
    )
    args = parser.parse_args(argv)

    work = args.dir or Path(tempfile.mkdtemp(prefix="relay-bench-"))
    print(f"   work dir {work}; {os.cpu_count()} cores")
    paths = make_files(work / "scene", args.size_mib * MiB)
    os.sync()  # the test files' own writeback must not compete with the relay's writes
    total = sum(p.stat().st_size for p in paths)
    print(f"   {len(paths)} files, {total / MiB:.0f} MiB")
    t_openssl = openssl_hash_time(paths)
    print(f"openssl dgst -sha256 (baseline)   {t_openssl:7.2f} s   {total / MiB / t_openssl:7.0f} MiB/s")
    relay_data = args.relay_data or work / "relay-data"
    t_dd, t_streamed = disk_floor_time(relay_data.parent, total)
    t_disk = min(t_dd, t_streamed)
    print(
        f"write + fsync same bytes (disk)   {t_disk:7.2f} s   {total / MiB / t_disk:7.0f} MiB/s"
        f"   = {t_disk / t_openssl:4.2f}× openssl (dd conv=fsync {t_dd:.2f} s, streamed with writeback"
        f" {t_streamed:.2f} s): the relay stores every byte durably, so no upload beats this"
    )
    floor = max(t_openssl, t_disk)

    shutil.rmtree(relay_data, ignore_errors=True)
    # The honest load generator is one client IP: lift the per-IP limits for it (the flood comes from
    # another address and meets the default failure throttle).
    limits = ["--rate", "1000000", "--burst", "1000000", "--ip-rate", "1000000", "--ip-burst", "1000000"]
    limits += ["--log-level", "warning"]
    relay = RelayProcess(relay_data, extra_args=limits + ["--jobs-table", str(work / "jobs.sqlite3")])
    from server.relay.authority import TableJobAuthority

    TableJobAuthority(str(work / "jobs.sqlite3"))
    relay.start()
    try:
        key = make_private_key()
        secret = crypto.requester_file_secret(key)
        client = RelayClient(relay.url, key, hash_cache=HashCache(work / "hashes.sqlite3"))
        cpu_before = cpu_seconds(relay.proc.pid)
        t_first, first = timed(client.upload_files, paths, secret, workers=args.workers)
        cpu_after = cpu_seconds(relay.proc.pid)
        print(
            f"first upload                      {t_first:7.2f} s   {t_first / t_openssl:5.2f}× openssl"
            f"   (goal ≤ 2.5×: {'met' if t_first <= 2.5 * t_openssl else 'not met'}; {first.blobs_uploaded} blobs,"
            f" {first.bytes_uploaded / MiB:.0f} MiB sent)"
        )
        print(
            f"                                            {t_first / floor:5.2f}× max(openssl, disk)"
            f"   ({'met' if t_first <= 2.5 * floor else 'not met'} against the slower of hashing and storing;"
            f" {t_first / t_disk:4.2f}× the disk floor)"
        )
        if cpu_before and cpu_after:
            client_cpu, relay_cpu = (a - b for a, b in zip(cpu_after, cpu_before, strict=True))
            cores, total_cpu = os.cpu_count() or 1, client_cpu + relay_cpu
            print(
                f"   CPU during it: client {client_cpu:.2f} s, relay {relay_cpu:.2f} s; {total_cpu:.2f} CPU-s"
                f" on {cores} cores = {total_cpu / (cores * t_first):.0%} busy. Both sides hash every"
                f" byte once (plaintext for the key, ciphertext for the id), ≈ {2 * t_openssl:.2f} CPU-s of it"
            )
        t_again, again = timed(client.upload_files, paths, secret, workers=args.workers)
        print(
            f"unchanged re-upload               {t_again:7.2f} s   {t_again / t_first:5.3f}× first upload"
            f"   (goal ≤ 0.05×; {again.bytes_uploaded} bytes sent)"
        )

        big = max(first.files, key=lambda f: f.blob_size)
        blob_path = relay.data_dir / "blobs" / big.blob_id[:2] / big.blob_id
        path = f"/v1/blobs/{big.blob_id}"
        sign = client.transport._headers
        relay_runs = [curl_time(relay.url + path, sign("GET", path, proto.body_hash(b""))) for _ in range(3)]
        t_relay = min(relay_runs)
        mib = big.blob_size / MiB
        print(f"download {mib:.0f} MiB blob, relay       {t_relay:7.2f} s   {mib / t_relay:7.0f} MiB/s")
        nginx = ensure_nginx()
        if nginx:
            proc, port = nginx_serving(nginx, blob_path.parent, work / "nginx")
            try:
                t_nginx = min(curl_time(f"http://127.0.0.1:{port}/{big.blob_id}") for _ in range(3))
            finally:
                proc.terminate()
                proc.wait()
            print(
                f"download same file, nginx         {t_nginx:7.2f} s   {mib / t_nginx:7.0f} MiB/s   "
                f"relay = {t_nginx / t_relay:4.2f}× nginx throughput (goal ≥ 0.5×)"
            )
        else:
            print("download baseline skipped: nginx is not installed and cannot be (not root)")

        if args.clients:
            latencies, errors = asyncio.run(concurrent_small_requests(relay.url, args.clients, args.requests))
            p99 = _p99(latencies)
            print(
                f"{args.clients} concurrent clients, {len(latencies)} signed requests: "
                f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, errors {errors}"
            )
        if args.flood_clients:
            flood_line(relay, args.flood_clients, args.requests)
        client.close()
    finally:
        relay.stop()
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
        if args.relay_data:
            shutil.rmtree(relay_data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
