"""The gRPC probe's h2 connection is h2's own, less the ``repr()`` of each frame received
that h2 writes for its logger's ``trace`` before calling it."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest

pytest.importorskip("h2")

from tether.probe import _grpc


def _body(function: object, *, drop_trace: bool) -> str:
    """The function's statements as an AST dump, without its docstring (and without the
    ``self.config.logger.trace(...)`` line when asked)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    body = list(node.body)
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring

    def is_trace(stmt: ast.stmt) -> bool:
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        return (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "trace"
        )

    # The annotation of a name (h2's event type, ``Any`` in the copy) does nothing.
    body = [s for s in body if not (isinstance(s, ast.AnnAssign) and s.value is None)]
    if drop_trace:
        assert any(is_trace(s) for s in body), "h2 no longer traces each frame: drop the copy"
        body = [s for s in body if not is_trace(s)]
    return "\n".join(ast.dump(s) for s in body)


def test_the_quiet_receive_frame_is_h2s_own_less_its_trace() -> None:
    """``_receive_frame`` of the probe's connection does, statement for statement, what the
    installed h2's does, less the trace call (an h2 that changed it fails here, not in
    production)."""
    from h2.connection import H2Connection

    quiet = _grpc._connection_class()
    assert issubclass(quiet, H2Connection)
    ours = _body(quiet._receive_frame, drop_trace=False)
    theirs = _body(H2Connection._receive_frame, drop_trace=True)
    assert ours == theirs


def test_the_quiet_connection_reprs_no_frame() -> None:
    """A server's SETTINGS, HEADERS, DATA and trailers taken in by the probe's connection
    give h2's events without any frame's ``__repr__`` being called."""
    from h2.config import H2Configuration
    from h2.connection import H2Connection
    from h2.events import ResponseReceived, StreamEnded, TrailersReceived
    from hyperframe.frame import Frame

    server = H2Connection(H2Configuration(client_side=False))
    server.initiate_connection()
    client = _grpc._connection_class()(_grpc._configuration())
    client.initiate_connection()
    client.send_headers(
        1,
        [(":method", "POST"), (":path", "/x"), (":scheme", "http"), (":authority", "a")],
        end_stream=True,
    )
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(":status", "200"), ("content-type", "application/grpc")])
    server.send_data(1, b"\x00\x00\x00\x00\x02\x08\x01")
    server.send_headers(1, [("grpc-status", "0")], end_stream=True)
    called = []
    original = Frame.__repr__

    def counted(self: Frame) -> str:
        called.append(type(self).__name__)
        return original(self)

    Frame.__repr__ = counted  # type: ignore[method-assign]
    try:
        events = client.receive_data(server.data_to_send())
    finally:
        Frame.__repr__ = original  # type: ignore[method-assign]
    kinds = {type(e) for e in events}
    assert {ResponseReceived, TrailersReceived, StreamEnded} <= kinds
    assert called == []
