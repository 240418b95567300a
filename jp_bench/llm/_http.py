"""What the vendor providers share: turning an HTTP failure into our error types, safely.

Both SDKs raise exceptions that carry the server's response; we read the status and the retry
headers from it and build our own message, so a request header (and the key in it) can never
travel into an error, a log line or a traceback.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from types import ModuleType

from jp_bench.llm.errors import PermanentError, TransientError

# 408 request timeout, 409 lock conflict, 425 too early, 429 rate limited: the vendors' own SDKs
# retry these too. Every 5xx (including Anthropic's 529 "overloaded") is worth another try.
_TRANSIENT_4XX = frozenset({408, 409, 425, 429})

# Key-shaped strings, redacted even when we do not know the key (a server echoing a header back).
_KEY_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._\-]{6,}"),
)
_MAX_MESSAGE_CHARS = 500


# Keys are often echoed without their vendor prefix (a proxy logging the token part only).
_VENDOR_PREFIXES = ("sk-ant-api03-", "sk-ant-admin01-", "sk-ant-", "sk-proj-", "sk-svcacct-", "sk-admin-", "sk-")


def secret_forms(secret: str | None) -> list[str]:
    """The spellings of a secret to hide: as given, and without its vendor prefix; longest first."""
    if not secret or len(secret) < 6:  # very short "secrets" (placeholders such as "x") would mangle words
        return []
    forms = {secret}
    for prefix in _VENDOR_PREFIXES:
        if secret.startswith(prefix) and len(secret) - len(prefix) >= 12:
            forms.add(secret[len(prefix):])
    return sorted(forms, key=len, reverse=True)


def redact_known(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every spelling of the given secrets replaced by ``***`` (and nothing else touched)."""
    for secret in secrets:
        for form in secret_forms(secret):
            text = text.replace(form, "***")
    return text


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every known secret and anything shaped like an API key replaced by ``***``."""
    text = redact_known(text, secrets)
    for pattern in _KEY_PATTERNS:
        text = pattern.sub("***", text)
    return text


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The server's requested wait: ``retry-after-ms``, else ``Retry-After`` (seconds or HTTP-date)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    millis = _parse_float(lowered.get("retry-after-ms"))
    if millis is not None:
        return max(millis / 1000, 0.0)
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _parse_float(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means the zone was omitted
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _parse_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


async def parse_raw(raw: object) -> object:
    """The body of an SDK raw response: openai's async ``with_raw_response`` parses synchronously,
    anthropic's asynchronously."""
    parsed = raw.parse()  # type: ignore[attr-defined]
    return await parsed if inspect.isawaitable(parsed) else parsed


_RATE_LIMIT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "retry-after")


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Only the headers that say how close we are to a rate limit (nothing else leaves the provider)."""
    return {key.lower(): value for key, value in headers.items() if key.lower().startswith(_RATE_LIMIT_PREFIXES)}


def is_transient_status(status: int, headers: Mapping[str, str]) -> bool:
    """Whether an HTTP error status is worth retrying; the vendors' ``x-should-retry`` header wins."""
    hint = {key.lower(): value for key, value in headers.items()}.get("x-should-retry", "").strip().lower()
    if hint in ("true", "false"):
        return hint == "true"
    return status in _TRANSIENT_4XX or status >= 500


def status_error(
    label: str, status: int, detail: str, headers: Mapping[str, str], secrets: Iterable[str | None],
    param: str | None = None,
) -> TransientError | PermanentError:
    """Our error for an HTTP error response (``label`` names the provider and model)."""
    message = f"{label}: HTTP {status}: {clip(redact(detail, secrets))}"
    if is_transient_status(status, headers):
        return TransientError(message, retry_after=retry_after_seconds(headers), status=status,
                              headers=rate_limit_headers(headers))
    return PermanentError(message, status=status, param=param)


# Anthropic names the offending field at the start of its message ("temperature: Input should be ...").
_FIELD_FIRST = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): ")


def rejected_parameter(body: object) -> str | None:
    """The request parameter an HTTP 400 rejects, when the body names one.

    OpenAI: ``{"error": {"param": "temperature", "code": "unsupported_parameter"}}`` (also
    ``unsupported_value``); vLLM and other compatible servers use the same ``param``; Anthropic puts
    the field first in its message. A refusal of the content itself names no parameter.
    """
    if not isinstance(body, Mapping):
        return None
    inner = body.get("error", body)
    if not isinstance(inner, Mapping):
        return None
    param = inner.get("param")
    if isinstance(param, str) and param and not param.startswith("messages"):
        return param
    message = inner.get("message")
    if inner.get("type") == "invalid_request_error" and isinstance(message, str):
        match = _FIELD_FIRST.match(message)
        if match and not match.group(1).startswith("messages"):
            return match.group(1)
    return None


def clip(text: str) -> str:
    """One line of at most a few hundred characters: error bodies can be whole HTML pages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_MESSAGE_CHARS else flat[: _MAX_MESSAGE_CHARS - 1] + "…"


def error_detail(body: object, fallback: str) -> str:
    """The human part of a vendor error body: ``{"error": {"type", "message"}}`` or ``{"message"}``."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            kind = inner.get("type")
            return f"{kind}: {inner['message']}" if isinstance(kind, str) and kind else inner["message"]
    return fallback


def cause_name(exc: BaseException) -> str:
    """The class of the transport error under an SDK error, e.g. ConnectError (its text may hold a URL)."""
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ if cause is not None else type(exc).__name__


@contextlib.contextmanager
def sdk_errors(sdk: ModuleType, label: str, timeout_s: float, secrets: Iterable[str | None]) -> Iterator[None]:
    """Translate one vendor SDK's exceptions into ours; openai and anthropic name theirs alike.

    Status errors keep their status (mapped by :func:`status_error`); timeouts, dropped connections and
    bodies that were cut off or are not JSON are transient. Nothing here quotes headers or keys.
    """
    secrets = list(secrets)
    try:
        yield
    except sdk.APIStatusError as exc:  # anthropic's 529 OverloadedError is one of these: transient
        detail = error_detail(exc.body, exc.message)
        raise status_error(label, exc.status_code, detail, exc.response.headers, secrets,
                           rejected_parameter(exc.body)) from None
    except sdk.APITimeoutError:
        raise TransientError(f"{label}: no answer within {timeout_s:g}s") from None
    except sdk.APIConnectionError as exc:
        raise TransientError(f"{label}: connection failed ({cause_name(exc)})") from None
    except (sdk.APIResponseValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        # A 200 whose body was cut off or is not JSON: a proxy or a dying server, worth a retry.
        raise TransientError(f"{label}: unreadable response body ({type(exc).__name__})") from None
    except sdk.APIError as exc:
        raise TransientError(f"{label}: {clip(redact(exc.message, secrets))}") from None
