"""``vouchers.errors`` as RFC 9457 problem documents: the one place errors become HTTP.

Every problem has a stable ``type`` (``/problems/<code>``, a relative URI reference as RFC
9457 allows, resolved against the API's address, ``<code>`` being the error class's
``code``), the status phrase as ``title``, the error's message as ``detail``, and extra
members where they help (``retry_after`` for lock-outs, ``errors`` for request validation,
the report of a refused import). Customers are told one thing for every unusable code
(``VoucherUnavailableError``'s ``customer_message``); staff and integrations get the exact
reason.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vouchers import errors
from vouchers.domain.access import PrincipalKind

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("vouchers.api")

# Most specific first: the first class an error is an instance of decides its status.
STATUS: list[tuple[type[errors.VouchersError], int]] = [
    (errors.TooManyAttemptsError, 429),
    (errors.AuthenticationError, 401),
    (errors.PermissionDeniedError, 403),
    (errors.IdempotencyKeyReusedError, 422),
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.InvalidTransitionError, 409),
    (errors.VoucherUnavailableError, 422),
    (errors.RedemptionRefusedError, 422),
    (errors.ValidationError, 422),
    (errors.KeyMaterialError, 503),
    (errors.StorageError, 503),
]


# Problems the HTTP layer itself raises (``HTTPException``), by status.
HTTP_CODES = {
    404: "not-found",
    405: "method-not-allowed",
    413: "content-too-large",
    415: "unsupported-media-type",
}


def status_of(error: errors.VouchersError) -> int:
    """The HTTP status of an error raised on purpose."""
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def problem(
    status: int, code: str, detail: str, *, instance: str | None = None, **extra: Any
) -> JSONResponse:
    """A problem document response."""
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem document; extra members where they help.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "examples": ["/problems/voucher-used"]},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "retry_after": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}
_PROBLEM_CONTENT = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def document(app: FastAPI) -> None:
    """Make the OpenAPI document tell the truth about errors: every 4xx and 5xx answer of
    every operation is a problem document (``application/problem+json``), including the
    request-validation 422 FastAPI documents as its own JSON shape."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                for status, response in responses.items():
                    if status[:1] in {"4", "5"}:
                        response["content"] = dict(_PROBLEM_CONTENT)
                for status, description in (("4XX", "A problem"), ("5XX", "A server problem")):
                    responses.setdefault(
                        status, {"description": description, "content": dict(_PROBLEM_CONTENT)}
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""
    document(app)

    @app.exception_handler(errors.VouchersError)
    async def _ours(request: Request, exc: errors.VouchersError) -> JSONResponse:
        status, code, detail = status_of(exc), exc.code, exc.message
        principal = getattr(request.state, "principal", None)
        if isinstance(exc, errors.VoucherUnavailableError) and (
            principal is not None and principal.kind is PrincipalKind.CUSTOMER
        ):
            code, detail = errors.VoucherUnavailableError.code, exc.customer_message
        extra: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if isinstance(exc, errors.TooManyAttemptsError):
            extra["retry_after"] = exc.retry_after
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, errors.AuthenticationError):
            headers["WWW-Authenticate"] = 'Bearer realm="vouchers"'
        if isinstance(exc, errors.ImportRefusedError):
            extra.update(exc.report)
        request.state.problem = code
        response = problem(status, code, detail, instance=request.url.path, **extra)
        response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "loc": list(error.get("loc", ())),
                "msg": error.get("msg", ""),
                "type": error.get("type", ""),
            }
            for error in exc.errors()
        ]
        request.state.problem = errors.ValidationError.code
        return problem(
            422,
            errors.ValidationError.code,
            "the request is not valid; see errors",
            instance=request.url.path,
            errors=fields,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http")
        request.state.problem = code
        response = problem(exc.status_code, code, str(exc.detail), instance=request.url.path)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug: logged with the request id for the operator, never shown to the caller.
        request.state.problem = "internal"
        log.error(
            "unhandled error in %s %s",
            request.method,
            request.url.path,
            exc_info=exc,
            extra={"request_id": getattr(request.state, "request_id", None)},
        )
        return problem(500, "internal", "an unexpected error occurred", instance=request.url.path)
