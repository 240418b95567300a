"""The annotation web server: stdlib ``http.server``, loopback only, no scripts in the pages.

Routes:

* ``GET /``: asks the annotator's name (a form that GETs ``/next?annotator=NAME``);
* ``GET /next?annotator=NAME``: the first task (in the shared task order) this annotator has not voted
  on, or the 完了 page; ``&task=ID`` shows one task again (voting on it replaces the earlier vote);
* ``POST /vote``: form fields ``task_id``, ``annotator``, ``order`` (an opaque token naming which model
  the page showed as A, signed with this server's secret), ``winner`` (``a``, ``b`` or ``tie``); stores
  the vote and answers 303 to ``/next``; a bad form is a 400, a missing or forged token a 403;
* ``GET /export.jsonl?token=T``: every vote in the ``read_human_votes`` layout, for the holder of the
  token printed when the server starts (``jp-bench annotate --export FILE`` needs none).

The server has no login, so it listens on 127.0.0.1 only, refuses requests whose ``Host`` is not the
address it serves (DNS rebinding) and votes posted from another site (CSRF: ``Origin`` and
``Sec-Fetch-Site`` are checked, and a vote needs the page's signed token). Pages never name the models.
Slow clients time out; a client that hangs up is not the operator's problem and prints nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import sys
import threading
import traceback
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from jp_bench.annotate.pages import Pages, TaskView
from jp_bench.annotate.tasks import AnnotationTask, shown_order
from jp_bench.annotate.votes import VoteStore, Winner, clean_annotator
from jp_bench.errors import JpBenchError

MAX_FORM_BYTES = 64 * 1024
FORM_WINNERS: dict[str, Winner] = {"a": "model_a", "b": "model_b", "tie": "tie"}
_HTML = "text/html; charset=utf-8"
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class BadRequest(Exception):
    """A request the server answers with ``status`` and a short message page."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AnnotationApp:
    """The tool's state and rules, apart from HTTP: tasks in order, the vote store, the pages."""

    def __init__(self, tasks: Sequence[AnnotationTask], store_path: str | Path, seed: int = 0) -> None:
        self.tasks = list(tasks)
        self.by_id = {task.task_id: task for task in self.tasks}
        if len(self.by_id) != len(self.tasks):
            raise ValueError("tasks must have distinct task ids")
        self.seed = seed
        self.pages = Pages()
        self.store = VoteStore(store_path)
        # The store learns how many turns each served question has, so that any later export (which
        # has only the store) can tell an earlier jp-bench's whole-conversation votes from turn votes.
        self.store.remember_questions(task.question for task in self.tasks)
        self._secret = secrets.token_bytes(32)  # signs the order tokens of this server's pages
        self.export_token = secrets.token_urlsafe(18)

    def order_token(self, task: AnnotationTask, annotator: str, shown_a: str) -> str:
        """Opaque to the page: which model was shown as A, for this task and annotator."""
        message = "\x00".join((task.task_id, annotator, shown_a)).encode("utf-8")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:40]

    def shown_order_of(self, task: AnnotationTask, annotator: str, token: str) -> tuple[str, str]:
        for shown_a, shown_b in (task.models, task.models[::-1]):
            if hmac.compare_digest(token, self.order_token(task, annotator, shown_a)):
                return shown_a, shown_b
        raise BadRequest("このページは古いか、別の場所から送られました。再読み込みしてください（bad order token）",
                         HTTPStatus.FORBIDDEN)

    def close(self) -> None:
        self.store.close()

    def annotator(self, value: str | None) -> str:
        """A valid annotator name from a request, or BadRequest."""
        try:
            return clean_annotator(value or "")
        except ValueError as exc:
            raise BadRequest(f"評価者名が不正です（{exc}）") from None

    def next_page(self, annotator: str, task_id: str | None = None) -> str:
        """The page for ``/next``: the requested task, else the first unvoted one, else 完了."""
        # Only votes on today's tasks count: an earlier jp-bench's whole-conversation vote on a multi-turn
        # question has the turn-less id, which no per-turn task has, so it marks no turn done.
        voted = self.store.voted_tasks(annotator) & self.by_id.keys()
        if task_id is not None:
            task = self.by_id.get(task_id)
            if task is None:
                raise BadRequest("不明な課題です（unknown task）", HTTPStatus.NOT_FOUND)
        else:
            task = next((t for t in self.tasks if t.task_id not in voted), None)
            if task is None:
                return self.pages.done(annotator, len(voted), len(self.tasks))
        shown_a, shown_b = shown_order(task, annotator, self.seed)
        return self.pages.task(TaskView(task, annotator, shown_a, shown_b, len(voted), len(self.tasks),
                                        already=task.task_id in voted,
                                        order=self.order_token(task, annotator, shown_a)))

    def vote(self, form: Mapping[str, str]) -> str:
        """Store the vote in ``form``; returns the annotator. Anything wrong is a BadRequest (400)."""
        if not (form.get("annotator") or "").strip():
            raise BadRequest("評価者名がありません（annotator is missing）")
        annotator = self.annotator(form.get("annotator"))
        task = self.by_id.get(form.get("task_id") or "")
        if task is None:
            raise BadRequest("不明な課題です（unknown task_id）")
        winner = FORM_WINNERS.get(form.get("winner") or "")
        if winner is None:
            raise BadRequest("winner は a / b / tie のいずれかです（bad winner）")
        # The order comes from the page's token, not recomputed: the vote is about what that page showed.
        shown_a, shown_b = self.shown_order_of(task, annotator, form.get("order") or "")
        self.store.record(task_id=task.task_id, annotator=annotator, question_id=task.question_id,
                          model_a=shown_a, model_b=shown_b, winner=winner, category=task.category, turn=task.turn)
        return annotator

    def export(self) -> str:
        """What ``jp-bench annotate --export`` writes, scopes included."""
        return self.store.scoped().jsonl()


_HUNG_UP = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 64
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: AnnotationApp) -> None:
        self.app = app
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], _HUNG_UP):  # the client left: nothing for the operator to see
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "jp-bench-annotate"
    sys_version = ""
    timeout = 30  # seconds a client may take per request before its thread is freed

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tool prints its URL, not one line per request."""

    # ------------------------------------------------------------------------------------ routing

    def do_GET(self) -> None:
        self._handle(self._get)

    def do_POST(self) -> None:
        self._handle(self._post)

    def _handle(self, route: Callable[[], None]) -> None:
        try:
            self._check_host()
            route()
        except _HUNG_UP:
            self.close_connection = True
        except BadRequest as exc:
            self._page(exc.status, self.server.app.pages.message(_TITLES.get(exc.status, "エラー"), exc.message))
        except Exception:  # an unexpected fault: a 500 page for the browser, the traceback for the operator
            traceback.print_exc(file=sys.stderr)
            self._page(HTTPStatus.INTERNAL_SERVER_ERROR,
                       self.server.app.pages.message("サーバーエラー", "予期しないエラーが発生しました。"))

    def _get(self) -> None:
        app = self.server.app
        url = urllib.parse.urlsplit(self.path)
        query = _first_values(urllib.parse.parse_qs(url.query, keep_blank_values=True))
        if url.path == "/":
            self._page(HTTPStatus.OK, app.pages.name(len(app.tasks), query.get("annotator", "").strip()))
        elif url.path == "/next":
            if not query.get("annotator", "").strip():
                self._redirect("/")
                return
            annotator = app.annotator(query["annotator"])
            self._page(HTTPStatus.OK, app.next_page(annotator, query.get("task") or None))
        elif url.path == "/export.jsonl":
            if not hmac.compare_digest(query.get("token", ""), app.export_token):
                raise BadRequest("書き出しには起動時に表示されたトークンが必要です（export token required）",
                                 HTTPStatus.FORBIDDEN)
            self._send(HTTPStatus.OK, app.export().encode("utf-8"), "application/x-ndjson; charset=utf-8",
                       {"Content-Disposition": 'attachment; filename="human_votes.jsonl"'})
        elif url.path == "/vote":
            raise BadRequest("投票はフォームから送信してください（POST only）", HTTPStatus.METHOD_NOT_ALLOWED)
        else:
            raise BadRequest("ページが見つかりません（not found）", HTTPStatus.NOT_FOUND)

    def _post(self) -> None:
        if urllib.parse.urlsplit(self.path).path != "/vote":
            raise BadRequest("ページが見つかりません（not found）", HTTPStatus.NOT_FOUND)
        self._check_origin()
        annotator = self.server.app.vote(self._form())
        self._redirect("/next?" + urllib.parse.urlencode({"annotator": annotator}))

    # ------------------------------------------------------------------------------------ checks

    def _allowed_hosts(self) -> set[str]:
        host, port = self.server.server_address[:2]
        return {f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"}

    def _check_host(self) -> None:
        host = self.headers.get("Host")
        if host is not None and host.lower() not in self._allowed_hosts():
            raise BadRequest("このホスト名では利用できません（bad Host header）")

    def _check_origin(self) -> None:
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() not in {f"http://{host}" for host in self._allowed_hosts()}:
            raise BadRequest("別のサイトからの投票は受け付けません（cross-origin POST）", HTTPStatus.FORBIDDEN)
        fetch_site = self.headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
            raise BadRequest("別のサイトからの投票は受け付けません（cross-site POST）", HTTPStatus.FORBIDDEN)

    def _form(self) -> dict[str, str]:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise BadRequest("フォームの形式が不正です（expected application/x-www-form-urlencoded）")
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            raise BadRequest("Content-Length がありません（missing Content-Length）") from None
        if length < 0 or length > MAX_FORM_BYTES:
            raise BadRequest("フォームが大きすぎます（form too large）", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        body = self.rfile.read(length)
        try:
            text = body.decode("utf-8")
            fields = urllib.parse.parse_qs(text, keep_blank_values=True, strict_parsing=bool(text),
                                           max_num_fields=16)
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("フォームを読み取れません（malformed form）") from None
        return _first_values(fields)

    # ------------------------------------------------------------------------------------ responses

    def _send(self, status: HTTPStatus, body: bytes, content_type: str,
              headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**_SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _page(self, status: HTTPStatus, html: str) -> None:
        self._send(status, html.encode("utf-8"), _HTML)

    def _redirect(self, location: str) -> None:
        self._send(HTTPStatus.SEE_OTHER, b"", _HTML, {"Location": location})


_TITLES = {
    HTTPStatus.BAD_REQUEST: "不正なリクエスト",
    HTTPStatus.FORBIDDEN: "拒否されました",
    HTTPStatus.NOT_FOUND: "見つかりません",
    HTTPStatus.METHOD_NOT_ALLOWED: "使えない操作です",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "大きすぎます",
}


def _first_values(fields: Mapping[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in fields.items() if values}


def _loopback_address(host: str) -> str:
    """``host`` if it is an IPv4 loopback address (``localhost`` is 127.0.0.1); else a JpBenchError."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise JpBenchError(f"the annotation server has no login and listens on 127.0.0.1 only, not {host!r}")
    return host


class AnnotationServer:
    """A running annotation server (a background thread). ``url`` is where to point the browser."""

    def __init__(self, httpd: _HTTPServer) -> None:
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="jp-bench-annotate", daemon=True)
        self._closed = False
        self._close_lock = threading.Lock()
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def export_url(self) -> str:
        return f"{self.url}export.jsonl?token={self._httpd.app.export_token}"

    @property
    def app(self) -> AnnotationApp:
        return self._httpd.app

    def wait(self) -> None:
        """Block until the server stops (KeyboardInterrupt gets through: the join wakes up regularly)."""
        while self._thread.is_alive():
            self._thread.join(0.2)

    def shutdown(self) -> None:
        """Stop serving, close the socket and the vote store; safe to call more than once."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        self._httpd.app.close()

    def __enter__(self) -> AnnotationServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.shutdown()


def serve(tasks: Sequence[AnnotationTask], store_path: str | Path, host: str = "127.0.0.1", port: int = 0,
          seed: int = 0) -> AnnotationServer:
    """Start serving ``tasks`` on ``host:port`` (port 0: a free one) in a background thread.

    Votes go to the ``votes`` table of the SQLite file ``store_path``. ``seed`` decides which model each
    annotator sees on the left. Returns the running server; ``shutdown()`` it (or use ``with``).
    """
    address = _loopback_address(host)
    app = AnnotationApp(tasks, store_path, seed)
    try:
        httpd = _HTTPServer((address, port), app)
    except OSError as exc:
        app.close()
        raise JpBenchError(f"cannot listen on {address}:{port}: {exc.strerror or exc}") from None
    return AnnotationServer(httpd)
