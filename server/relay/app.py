"""The relay's ASGI application: routes, error handlers, access logs, metrics, background GC."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from addon.farm import relay_errors as E

from . import routes_blobs, routes_jobs
from .authority import CachedJobAuthority, ChainJobAuthority, JobAuthority, TableJobAuthority
from .config import RelayConfig
from .errors import ConfigError, RelayError, install_error_handlers
from .fs_blobs import FileBlobStore
from .gc import collect_garbage, reconcile
from .logs import log_event
from .nonces import NonceStore
from .sqlite_meta import SqliteMetadata
from .state import RelayState

log = logging.getLogger("relay.access")
VERSION = "1"
CHECKPOINT_INTERVAL = 2.0  # seconds between folding the nonce WAL back (off the event loop)


def build_authority(config: RelayConfig) -> JobAuthority:
    if config.jobs_table:
        inner = TableJobAuthority(str(config.jobs_table))
    elif config.node_url:
        from addon.stacks.api import StacksClient

        client = StacksClient(config.network, api_url=config.node_url)
        inner = ChainJobAuthority(client, config.contract or _devnet_contract(config.node_url))
    else:
        raise ConfigError(
            "no job authority: pass --node URL and --contract ADDRESS.NAME "
            "(or --jobs-table FILE for an offline job table)",
        )
    return CachedJobAuthority(inner, ttl=config.authority_ttl, negative_ttl=min(1.0, config.authority_ttl))


def _devnet_contract(node_url: str) -> str:
    """On the local devnet the contract id follows from its deployer account; elsewhere it must be given."""
    import httpx

    try:
        accounts = httpx.get(node_url.rstrip("/") + "/devnet/accounts", timeout=5).json()["accounts"]
        deployer = next(a["address"] for a in accounts if a["name"] == "deployer")
    except Exception:
        raise ConfigError(f"{node_url} is not a local devnet: pass --contract ADDRESS.render-farm "
                         "(the deployed render-farm contract id)") from None
    return f"{deployer}.render-farm"


class AccessLog:
    """Pure ASGI middleware (streams stay streams): per-request metrics and one JSON log line."""

    def __init__(self, app, state: RelayState):
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status, sent = time.perf_counter(), 500, 0

        async def capture(message):
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics = self.state.metrics
            metrics.inc("requests_total", method=scope["method"], route=route, status=status)
            metrics.inc("bytes_sent_total", sent)
            metrics.observe_latency(elapsed)
            state = scope.get("state") or {}
            log_event(
                log,
                "request",
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                ms=round(elapsed * 1000, 2),
                sent=sent,
                address=state.get("address"),
                client=(scope.get("client") or ("", 0))[0],
            )


class Info(BaseModel):
    service: str
    version: str
    network: str
    max_blob_bytes: int
    max_document_bytes: int
    quota_bytes: int
    clock_skew_seconds: int


def create_app(config: RelayConfig, authority: JobAuthority | None = None) -> FastAPI:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    state = RelayState(
        config=config,
        meta=SqliteMetadata(config.data_dir / "relay.sqlite3"),
        blobs=FileBlobStore(config.data_dir),
        authority=authority or build_authority(config),
        nonces=NonceStore(config.data_dir / "nonces.sqlite3"),
    )
    reconcile(state)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async def gc_loop():
            while True:
                await asyncio.sleep(config.gc_interval)
                try:
                    await state.run(collect_garbage, state)
                except Exception:
                    logging.getLogger("relay.gc").exception("gc failed; will retry")

        async def checkpoint_loop():
            while True:
                await asyncio.sleep(CHECKPOINT_INTERVAL)
                try:
                    await state.run(state.nonces.checkpoint)
                except Exception:
                    logging.getLogger("relay").exception("nonce checkpoint failed; will retry")

        tasks = [asyncio.create_task(gc_loop()), asyncio.create_task(checkpoint_loop())]
        yield
        for task in tasks:
            task.cancel()
        state.meta.close()
        state.nonces.close()

    app = FastAPI(
        title="Render farm relay",
        version=VERSION,
        description="Moves encrypted scenes, frames and progress between requesters and providers. Every "
        "/v1 request is signed with a Stacks key (see addon.farm.relay_protocol).",
        lifespan=lifespan,
    )
    app.state.relay = state
    install_error_handlers(app)
    app.include_router(routes_blobs.router)
    app.include_router(routes_jobs.router)

    @app.get("/health", tags=["ops"], summary="Liveness")
    async def health():
        return {"status": "ok"}

    @app.get("/v1/info", response_model=Info, tags=["ops"], summary="Limits clients should respect")
    async def info():
        return Info(
            service="render-farm-relay",
            version=VERSION,
            network=config.network,
            max_blob_bytes=config.max_blob_bytes,
            max_document_bytes=config.max_document_bytes,
            quota_bytes=config.quota_bytes,
            clock_skew_seconds=config.clock_skew,
        )

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse, summary="Prometheus metrics")
    async def metrics(request: Request):
        # Unsigned, and it sums the blob table: charged to the caller's per-IP bucket like /v1 requests.
        wait = state.ip_limiter.allow((request.client or ("?", 0))[0])
        if wait:
            raise RelayError(E.RateLimited, f"too many requests; retry in {wait:.2f}s",
                             headers={"Retry-After": str(max(1, round(wait)))})
        blobs, blob_bytes, uploads = await state.run(state.meta.totals)
        return state.metrics.render({"blobs": blobs, "blob_bytes": blob_bytes, "uploads_in_progress": uploads})

    app.add_middleware(AccessLog, state=state)
    return app
