"""Every error leaves the relay as JSON: {"error": {"code": ..., "message": ...}} plus optional details.

Codes and statuses come from one table, addon/farm/relay_errors.py, shared with the client: a route
raises `RelayError(OffsetMismatch, "what to do", offset=...)`, never a free-form code.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from addon.farm import relay_errors as E

log = logging.getLogger("relay")


class ConfigError(Exception):
    """The relay cannot start with this configuration (the message says which flag to fix)."""


class RelayError(HTTPException):
    """A refusal of one of the table's kinds. An HTTPException, so FastAPI passes it through unchanged even
    when raised while it reads a request body."""

    def __init__(self, kind: type[E.RelayRefused], message: str, headers: dict | None = None, **details):
        super().__init__(kind.status, message, headers)
        self.kind, self.message, self.details = kind, message, details

    @property
    def status(self) -> int:
        return self.kind.status

    @property
    def code(self) -> str:
        return self.kind.code


def error_body(kind: type[E.RelayRefused], message: str, **details) -> dict:
    return {"error": {"code": kind.code, "message": message, **details}}


def error_bytes(kind: type[E.RelayRefused], message: str, **details) -> bytes:
    return json.dumps(error_body(kind, message, **details), separators=(",", ":")).encode()


def error_response(exc: RelayError) -> JSONResponse:
    return JSONResponse(error_body(exc.kind, exc.message, **exc.details), exc.status, headers=exc.headers)


# Framework refusals (routing, body parsing) by status; anything else is reported as a bad request.
_BY_STATUS = {400: E.BadRequest, 404: E.NoSuchEndpoint, 405: E.MethodNotAllowed, 413: E.BodyTooLarge}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RelayError)
    async def _relay_error(request: Request, exc: RelayError):
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")} for e in exc.errors()
        ]
        return JSONResponse(
            error_body(E.InvalidRequest, "the request does not match the API schema", problems=problems),
            E.InvalidRequest.status,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        kind = _BY_STATUS.get(exc.status_code, E.BadRequest)
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if kind is E.NoSuchEndpoint and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path} (see /docs for the API)"
        return JSONResponse(error_body(kind, message), kind.status, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(E.InternalError, "internal relay error; it was logged, retry later"), 500)
