"""`python -m server relay …`: run the relay, or collect garbage once.

The dispatcher in server/__main__.py adds this with `relay.cli.add_arguments(subparser)` and calls
`relay.cli.run(args)`; `python -m server.relay …` runs it standalone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from addon.stacks.network import get_network

from .config import RelayConfig

# (config field, type, help); each is a flag --field-name with the environment default RELAY_FIELD_NAME.
LIMITS = [
    ("max_request_bytes", int, "largest signed JSON body; 0: derived from --max-document-bytes"),
    ("max_header_bytes", int, "request line and headers, bytes (431 beyond)"),
    ("max_headers", int, "headers per request (431 beyond)"),
    ("header_timeout", float, "seconds for a request's headers to arrive (408, connection closed)"),
    ("body_timeout", float, "seconds of silence mid-body before the request is dropped"),
    ("keep_alive", float, "seconds an idle keep-alive connection stays open"),
    ("max_connections", int, "open connections in total (503 beyond)"),
    ("max_inflight", int, "/v1 requests being handled at once (503 beyond)"),
    ("max_inflight_per_ip", int, "/v1 requests being handled at once for one client IP (503 beyond)"),
    ("ip_rate", float, "requests/s per client IP before authentication"),
    ("ip_burst", int, "request burst per client IP before authentication"),
    ("ip_fail_rate", float, "failed authentications/s per client IP before it is refused unverified"),
    ("ip_fail_burst", int, "failed authentication burst per client IP"),
    ("forwarded_allow_ips", str, "proxies whose X-Forwarded-For names the client IP (comma list, '*': any)"),
    ("max_uploads_per_address", int, "open upload sessions per address"),
    ("max_uploads", int, "open upload sessions in total"),
    ("total_bytes", int, "bytes stored in total, blobs plus open uploads; 0: no ceiling but the disk reserve"),
    ("disk_reserve_bytes", int, "free disk space new uploads must leave on the data filesystem"),
    ("max_previews_per_job", int, "previews per job"),
    ("max_job_bytes", int, "bytes of documents (manifests, previews) per job"),
]
ENV_NOTE = "Every flag defaults to an environment variable RELAY_<NAME> (e.g. RELAY_DATA, RELAY_PORT, RELAY_NODE)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = RelayConfig()
    parser.description = "Run the render-farm relay (HTTP API on uvicorn). " + ENV_NOTE
    parser.add_argument("--data", type=Path, default=d.data_dir, help=f"data directory (default {d.data_dir})")
    parser.add_argument("--host", default=d.host, help=f"listen address (default {d.host})")
    parser.add_argument("--port", type=int, default=d.port, help=f"listen port (default {d.port})")
    parser.add_argument("--node", default=d.node_url, help="Stacks node/API URL the job parties are read from")
    parser.add_argument("--contract", default=d.contract, help="render-farm contract id, ADDRESS.NAME (with --node)")
    parser.add_argument(
        "--jobs-table",
        type=Path,
        default=d.jobs_table,
        help="read job parties from this local SQLite table instead of the chain (tests, demos)",
    )
    parser.add_argument(
        "--network",
        default=d.network,
        choices=["mainnet", "testnet", "devnet"],
        help=f"address version of signers (default {d.network}; devnet uses testnet addresses)",
    )
    parser.add_argument("--max-blob-bytes", type=int, default=d.max_blob_bytes)
    parser.add_argument("--max-document-bytes", type=int, default=d.max_document_bytes)
    parser.add_argument("--quota-bytes", type=int, default=d.quota_bytes, help="bytes stored per address")
    parser.add_argument("--clock-skew", type=int, default=d.clock_skew, help="accepted request age, seconds")
    parser.add_argument("--rate", type=float, default=d.rate_per_second, help="requests/s per address")
    parser.add_argument("--burst", type=int, default=d.rate_burst, help="request burst per address")
    parser.add_argument(
        "--authority-ttl", type=float, default=d.authority_ttl, help="seconds a job's parties are cached"
    )
    parser.add_argument("--gc-grace", type=float, default=d.gc_grace, help="seconds an unreferenced blob is kept")
    parser.add_argument("--gc-interval", type=float, default=d.gc_interval, help="seconds between GC runs")
    parser.add_argument("--upload-ttl", type=float, default=d.upload_ttl, help="seconds an idle upload session is kept")
    parser.add_argument(
        "--job-retention",
        type=float,
        default=d.job_retention,
        help="seconds an untouched job's documents are kept",
    )
    parser.add_argument("--log-level", default=d.log_level, choices=["debug", "info", "warning", "error"])
    limits = parser.add_argument_group("limits against exhaustion (see docs/relay.md, Operating a relay)")
    for field_name, kind, help_text in LIMITS:
        flag = "--" + field_name.replace("_", "-")
        default = getattr(d, field_name)
        limits.add_argument(flag, type=kind, default=default, help=f"{help_text} (default {default})")
    parser.add_argument("--gc-once", action="store_true", help="collect garbage once and exit (no server)")


def config_from_args(args: argparse.Namespace) -> RelayConfig:
    return RelayConfig(
        data_dir=args.data,
        host=args.host,
        port=args.port,
        node_url=args.node,
        contract=args.contract,
        jobs_table=args.jobs_table,
        network=get_network(args.network).address_network,
        max_blob_bytes=args.max_blob_bytes,
        max_document_bytes=args.max_document_bytes,
        quota_bytes=args.quota_bytes,
        clock_skew=args.clock_skew,
        rate_per_second=args.rate,
        rate_burst=args.burst,
        authority_ttl=args.authority_ttl,
        gc_grace=args.gc_grace,
        gc_interval=args.gc_interval,
        upload_ttl=args.upload_ttl,
        job_retention=args.job_retention,
        log_level=args.log_level,
        **{name: getattr(args, name) for name, _, _ in LIMITS},
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .errors import ConfigError
    from .gc import collect_garbage
    from .logs import configure_logging

    config = config_from_args(args)
    configure_logging(config.log_level)
    try:
        app = create_app(config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.gc_once:
        print(collect_garbage(app.state.relay))
        return 0
    uvicorn.run(app, **uvicorn_settings(config, app.state.relay))
    return 0


def uvicorn_settings(config: RelayConfig, state=None) -> dict:
    """How the relay runs uvicorn: its own protocol (limits, body handoff), timeouts, proxy headers."""
    proxied = bool(config.forwarded_allow_ips)
    return {
        "http": _http_protocol(config, state),
        "host": config.host,
        "port": config.port,
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        "timeout_keep_alive": config.keep_alive,
        "h11_max_incomplete_event_size": config.max_header_bytes,  # the h11 fallback's head limit
        "proxy_headers": proxied,
        "forwarded_allow_ips": config.forwarded_allow_ips if proxied else None,
        "server_header": False,
    }


def _http_protocol(config: RelayConfig, state=None):
    """uvicorn's httptools protocol with the relay's limits and the blob-body handoff, where httptools is
    installed (it is in requirements.txt; without it uvicorn's h11 protocol enforces only the head size)."""
    try:
        from .uvicorn_protocol import RelayHttpProtocol
    except ImportError:
        return "auto"
    return RelayHttpProtocol.limited(config, state)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.relay")
    add_arguments(parser)
    return run(parser.parse_args(argv))
