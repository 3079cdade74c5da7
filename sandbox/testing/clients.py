"""Your own HTTP client, talking to the in-process sandbox: a `requests` session, an `httpx` client
(sync or async), or any code of yours that calls the production base URL, routed into the
sandbox without a change (as Moto does for AWS).

The routing is done by the libraries made for it: requests-mock for `requests` (an adapter on a
session, or a Mocker for every session), httpx's own MockTransport for a client, respx for every
httpx client. A forced drop surfaces as that library's own connection error:
`requests.exceptions.ConnectionError`, `httpx.RemoteProtocolError`.

Install the extras for the library you use: `pip install "huskyvoice-sandbox[requests]"` or
`"huskyvoice-sandbox[httpx]"`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

PRODUCTION = "https://api.huskyvoice.ai"
DROPPED = "The sandbox closed the connection without a response (a forced drop)."

# How a handle sends one request: (method, path with query, body, headers) -> (status, headers,
# body), raising a ConnectionError when the sandbox drops the connection (in process or served).
Exchange = Callable[[str, str, "bytes | None", "dict[str, str]"], "tuple[int, Iterable[tuple[str, str]], bytes]"]


def dispatch(exchange: Exchange, method: str, url: str, headers: Any, body: bytes | None,
             base_url: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request to the sandbox, its URL taken relative to `base_url`."""
    parts = urlsplit(url)
    prefix = urlsplit(base_url).path.rstrip("/")
    path = parts.path[len(prefix):] if prefix and parts.path.startswith(prefix) else parts.path
    sent = {name: value for name, value in dict(headers).items()
            if name.lower() not in ("content-length", "host", "connection", "transfer-encoding")}
    target = (path or "/") + (f"?{parts.query}" if parts.query else "")
    status, answer, content = exchange(method, target, body or None, sent)
    return status, list(answer), content


def _matches(url: str, base_url: str) -> bool:
    return url == base_url or url.startswith(base_url.rstrip("/") + "/")


# -- requests ---------------------------------------------------------------------------------------

def _requests_answer(exchange: Exchange, base_url: str, request: Any) -> Any:
    import requests
    import requests_mock

    if not _matches(request.url, base_url):
        return None
    body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
    try:
        status, headers, content = dispatch(exchange, request.method, request.url, request.headers, body, base_url)
    except ConnectionError:
        raise requests.exceptions.ConnectionError(DROPPED, request=request) from None
    return requests_mock.create_response(request, status_code=status, headers=dict(headers), content=content)


def requests_session(exchange: Exchange, base_url: str = PRODUCTION) -> Any:
    """A `requests.Session` whose calls to `base_url` go to the sandbox in process."""
    import requests
    import requests_mock

    adapter = requests_mock.Adapter()
    adapter.add_matcher(lambda request: _requests_answer(exchange, base_url, request))
    session = requests.Session()
    session.mount(base_url.rstrip("/") + "/", adapter)
    return session


# -- httpx --------------------------------------------------------------------------------------------

def _httpx_answer(exchange: Exchange, base_url: str, request: Any) -> Any:
    import httpx

    try:
        status, headers, content = dispatch(exchange, request.method, str(request.url), request.headers,
                                            request.read(), base_url)
    except ConnectionError:
        raise httpx.RemoteProtocolError(DROPPED, request=request) from None
    return httpx.Response(status, headers=headers, content=content, request=request)


def httpx_transport(exchange: Exchange, base_url: str = PRODUCTION) -> Any:
    """An httpx transport (for `httpx.Client` and `httpx.AsyncClient`) into the sandbox."""
    import httpx

    return httpx.MockTransport(lambda request: _httpx_answer(exchange, base_url, request))


def httpx_client(exchange: Exchange, base_url: str = PRODUCTION, **options: Any) -> Any:
    """An `httpx.Client` on `base_url`, answered by the sandbox in process."""
    import httpx

    return httpx.Client(base_url=base_url, transport=httpx_transport(exchange, base_url), **options)


def httpx_async_client(exchange: Exchange, base_url: str = PRODUCTION, **options: Any) -> Any:
    """An `httpx.AsyncClient` on `base_url`, answered by the sandbox in process."""
    import httpx

    return httpx.AsyncClient(base_url=base_url, transport=httpx_transport(exchange, base_url), **options)


# -- every client -------------------------------------------------------------------------------------

@contextlib.contextmanager
def intercept(exchange: Exchange, base_url: str = PRODUCTION) -> Iterator[None]:
    """While open, every `requests` and `httpx` call to `base_url`, made anywhere, goes to the
    sandbox; calls elsewhere go out as usual. For each library that is installed."""
    have_requests_mock = importlib.util.find_spec("requests_mock") is not None
    have_respx = importlib.util.find_spec("respx") is not None
    if not (have_requests_mock or have_respx):
        raise ImportError('intercept() needs requests-mock or respx: pip install '
                          '"huskyvoice-sandbox[requests]" or "huskyvoice-sandbox[httpx]"')
    with contextlib.ExitStack() as stack:
        if have_requests_mock:
            import requests_mock

            mocker = stack.enter_context(requests_mock.Mocker(real_http=True))
            mocker.add_matcher(lambda request: _requests_answer(exchange, base_url, request))
        if have_respx:
            import respx

            router = stack.enter_context(respx.mock(assert_all_called=False))
            router.route(url__startswith=base_url.rstrip("/") + "/").mock(
                side_effect=lambda request: _httpx_answer(exchange, base_url, request))
            router.route().pass_through()
        try:
            yield
        except Exception as exc:
            _note_if_elsewhere(exc, base_url)
            raise


def _note_if_elsewhere(exc: BaseException, base_url: str) -> None:
    """A connection error from a call that went elsewhere (a typo in the host, a local URL) gets a
    note saying that only `base_url` is routed, so the bare DNS error is not a mystery."""
    request = getattr(exc, "request", None)
    url = str(getattr(request, "url", "") or "")
    if url and not _matches(url, base_url) and _is_connection_error(exc):
        exc.add_note(f"huskyvoice intercept(): only calls to {base_url.rstrip('/')}/... reach the sandbox; "
                     f"this one was to {url} and went out to the network as usual.")


def _is_connection_error(exc: BaseException) -> bool:
    """requests' or httpx's own "could not connect" (only a library already imported can raise)."""
    kinds = (getattr(sys.modules.get("requests.exceptions"), "ConnectionError", None),
             getattr(sys.modules.get("httpx"), "TransportError", None))
    return isinstance(exc, tuple(kind for kind in kinds if isinstance(kind, type)))
