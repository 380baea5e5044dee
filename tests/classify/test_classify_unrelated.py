"""Exceptions that are not network failures are ``unknown``, whatever their words.

The classifier reads message text only on exceptions from the clients whose messages
are known (their classes, their code in the traceback, their wrappers).  So an
exception raised by any other code is ``unknown`` even when it says "Tunnel connection
failed: 407", mentions an IDNA label or a chunk header, or is a ``TimeoutError`` with words
of its own ("Timed out waiting for the lock").  A ``TimeoutError`` with no words at all is
what ``asyncio.timeout``, ``asyncio.wait_for`` and ``concurrent.futures`` raise when a
caller's own bound runs out: a timeout, ``read.timeout`` where nothing shows the phase
(issue 71).
The words tried are the ones the classifier itself looks for, read from its source and
from the parser table, so the test follows the code.

Left out on purpose, because they are network failures by what they are:
``ConnectionError`` and its subclasses (a reset is a reset, errno or not), ``OSError``
with a network errno (the kernel's word), a ``TimeoutError`` worded exactly as the
socket and ssl modules word theirs (indistinguishable from theirs), and the errnos of
``connect.resource_exhausted`` (EMFILE, ENFILE, EADDRNOTAVAIL, ENOBUFS, ENOMEM).
"""

from __future__ import annotations

import ast
import asyncio
import concurrent.futures
import errno
import inspect
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether import Kind, classify
from tether import _classify as classify_package
from tether._classify import _sockets
from tether._parser_errors import PARSER_ERRORS

# --- the words the classifier looks for, read from its own source -----------------------


def _words() -> tuple[list[str], list[str]]:
    """(phrases, regular expressions) that the modules of tether._classify compare
    messages with, and the parser table's patterns."""
    folder = Path(inspect.getfile(classify_package)).parent
    trees = [ast.parse(path.read_text()) for path in sorted(folder.glob("*.py"))]
    phrases: set[str] = set()
    patterns: set[str] = {row.pattern for row in PARSER_ERRORS if row.pattern}
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, (ast.In, ast.NotIn, ast.Eq)) for op in node.ops
        ):
            for part in (node.left, *node.comparators):
                if isinstance(part, ast.Constant) and isinstance(part.value, str) and part.value:
                    phrases.add(part.value)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            if node.func.attr in ("search", "findall", "compile", "fullmatch", "match"):
                patterns.add(node.args[0].value)
            elif node.func.attr in ("startswith", "endswith"):
                phrases.add(node.args[0].value)
    return sorted(phrases), sorted(patterns)


PHRASES, PATTERNS = _words()


def test_the_words_come_from_the_classifier() -> None:
    """The extraction finds the words the rules match (a guard against reading nothing)."""
    assert {"Tunnel connection failed", "idna", "label", "unknown url type"} <= set(PHRASES)
    assert any("Receive buffer too long" in p for p in PATTERNS)
    assert any("got more than" in p for p in PATTERNS)


# --- what unrelated code raises -----------------------------------------------------------

PLAIN_TYPES: tuple[type[Exception], ...] = (
    Exception,
    RuntimeError,
    ValueError,
    KeyError,
    TypeError,
    LookupError,
    AssertionError,
    ArithmeticError,
    OverflowError,
    UnicodeError,
    NotImplementedError,
    OSError,
    ChildProcessError,
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
    InterruptedError,
    BlockingIOError,
    ProcessLookupError,
)
# The resource helper's kind (connect.resource_exhausted) owns these errnos.
RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS, errno.ENOMEM}
NETWORK_ERRNOS = set(_sockets.ERRNO_KINDS) | RESOURCE_ERRNOS
# OSError(code, ...) becomes ConnectionResetError and its kin for these: network by class.
CONNECTION_ERRNOS = {
    code
    for code in errno.errorcode
    if isinstance(OSError(code, "x"), (ConnectionError, TimeoutError))
}
OTHER_ERRNOS = sorted(set(errno.errorcode) - NETWORK_ERRNOS - CONNECTION_ERRNOS)


def _socket_words(text: str) -> bool:
    return bool(
        _sockets._SOCKET_TIMEOUT.fullmatch(text) or _sockets._HANDSHAKE_TIMEOUT.fullmatch(text)
    )


messages = st.one_of(
    st.sampled_from(PHRASES),
    st.sampled_from(PATTERNS).flatmap(st.from_regex),
    st.builds(
        lambda a, b, c: a + b + c,
        st.text(max_size=8),
        st.sampled_from(PHRASES),
        st.text(max_size=8),
    ),
)


def _raise(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    """``exc`` raised here, in code that is not a network client's."""
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


@st.composite
def plain_exceptions(draw: st.DrawFn) -> BaseException:
    cls = draw(st.sampled_from(PLAIN_TYPES))
    text = draw(messages)
    if issubclass(cls, OSError) and draw(st.booleans()):
        exc: BaseException = cls(draw(st.sampled_from(OTHER_ERRNOS)), text)
    else:
        exc = cls(text)
    return _raise(exc) if draw(st.booleans()) else exc


def _bad_files(tmp: Path) -> Iterator[Callable[[], object]]:
    """Loading certificates, keys and settings that are wrong: local setup, not TLS."""
    garbage = tmp / "garbage.pem"
    garbage.write_text("not a certificate\n")
    ca = trustme.CA()
    cert = tmp / "cert.pem"
    ca.issue_cert("a.test").cert_chain_pems[0].write_to_path(str(cert))
    other_key = tmp / "other-key.pem"
    trustme.CA().issue_cert("b.test").private_key_pem.write_to_path(str(other_key))

    def context() -> ssl.SSLContext:
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    yield lambda: context().load_cert_chain(str(garbage))  # [SSL] PEM lib
    yield lambda: context().load_cert_chain(str(cert), str(other_key))  # KEY_VALUES_MISMATCH
    yield lambda: context().load_verify_locations(str(garbage))  # NO_CERTIFICATE_OR_CRL_FOUND
    yield lambda: context().load_verify_locations(cadata="garbage")  # no start line
    yield lambda: context().load_dh_params(str(garbage))  # [PEM: NO_START_LINE]
    yield lambda: context().set_ciphers("NO-SUCH-CIPHER")
    yield lambda: ssl.create_default_context(cafile=str(garbage))


def _caught(action: Callable[[], object]) -> BaseException:
    try:
        action()
    except BaseException as exc:
        return exc
    raise AssertionError(f"{action} did not raise")


def _real_timeouts() -> list[BaseException]:
    """Bare timeouts of code that waits on something other than the network."""

    async def wait_for() -> object:
        return await asyncio.wait_for(asyncio.sleep(60), 0)

    async def timeout() -> None:
        async with asyncio.timeout(0):
            await asyncio.sleep(60)

    def future() -> object:
        return concurrent.futures.Future().result(timeout=0)

    def pool() -> object:
        with concurrent.futures.ThreadPoolExecutor(1) as executor:
            started = concurrent.futures.Future[None]()
            release = concurrent.futures.Future[None]()

            def work() -> None:
                started.set_result(None)
                release.result()

            job = executor.submit(work)
            started.result()
            try:
                return job.result(timeout=0)
            finally:
                release.set_result(None)

    return [
        _caught(lambda: asyncio.run(wait_for())),
        _caught(lambda: asyncio.run(timeout())),
        _caught(future),
        _caught(pool),
    ]


@pytest.fixture(scope="module")
def local_errors(tmp_path_factory: pytest.TempPathFactory) -> list[BaseException]:
    """Real ssl.SSLErrors from bad files, and real timeouts of futures and asyncio."""
    tmp = tmp_path_factory.mktemp("bad-tls-files")
    return [_caught(action) for action in _bad_files(tmp)] + _real_timeouts()


UNRELATED = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@UNRELATED
@given(data=st.data())
def test_unrelated_exceptions_are_unknown(
    data: st.DataObject, local_errors: list[BaseException]
) -> None:
    """Builtin exceptions saying what network clients say, real ssl errors from loading
    bad files and real timeouts of futures, alone, chained or grouped, are ``unknown``."""
    leaf = st.one_of(plain_exceptions(), st.sampled_from(local_errors))
    exc = data.draw(leaf)
    shape = data.draw(st.sampled_from(["alone", "cause", "group"]))
    if shape == "cause":
        exc = _raise(data.draw(plain_exceptions()), cause=exc)
    elif shape == "group":
        exc = ExceptionGroup("unrelated", [exc, data.draw(leaf)])
    if isinstance(exc, TimeoutError) and _socket_words(str(exc)):
        return  # exactly what socket and ssl raise: indistinguishable from theirs
    failure = classify(exc)
    if _wordless_timeout(exc):
        # A caller's own time bound cut something short (issue 71): a timeout, the call's
        # answer that did not come in time, since nothing shows a client's phase.
        assert failure.kind is Kind.READ_TIMEOUT, (exc, failure.detail)
        return
    assert failure.kind is Kind.UNKNOWN, (exc, failure.detail)


def _wordless_timeout(exc: BaseException) -> bool:
    """Whether a TimeoutError with no words at all is in ``exc``'s chain or group."""
    nodes = [exc, exc.__cause__, *(exc.exceptions if isinstance(exc, BaseExceptionGroup) else ())]
    return any(isinstance(n, TimeoutError) and not str(n) for n in nodes)


@pytest.mark.parametrize(
    "exc",
    [
        ChildProcessError("Tunnel connection failed: 407 Proxy Authentication Required"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 9)"),
        ValueError("label empty or too long"),
        ValueError("encoding with 'idna' codec failed"),
        UnicodeError("label too long"),
        ValueError("unknown url type: 'htp'"),
        ValueError("invalid literal for int() with base 16: b'zz'"),
        OverflowError("port must be 0-65535"),
        PermissionError(errno.EACCES, "Permission denied"),
        OSError(errno.EINVAL, "Invalid argument"),
        TimeoutError("Timed out waiting for the lock"),
    ],
    ids=repr,
)
def test_named_traps_are_unknown(exc: BaseException) -> None:
    """The traps of issue 12, raised by code that is not a client's: no specific kind."""
    assert classify(_raise(exc)).kind is Kind.UNKNOWN


def test_bad_certificate_files_are_not_tls_failures(local_errors: list[BaseException]) -> None:
    """Each ssl.SSLError from loading a bad file is unknown: this machine's configuration,
    not a handshake that failed."""
    ssl_errors = [e for e in local_errors if isinstance(e, ssl.SSLError)]
    assert len(ssl_errors) == 7
    assert {classify(e).kind for e in ssl_errors} == {Kind.UNKNOWN}


def test_future_and_asyncio_timeouts_are_timeouts(
    local_errors: list[BaseException],
) -> None:
    """future.result(timeout=), asyncio.wait_for and asyncio.timeout around a sleep raise a
    TimeoutError with no words: a caller's own bound that ran out (issue 71), a timeout
    whose phase nothing shows: ``read.timeout``, retryable, as tether's own decorator calls
    an attempt its ``total`` cut; not ``unknown``."""
    timeouts = [e for e in local_errors if isinstance(e, TimeoutError)]
    assert len(timeouts) == 4
    assert {classify(e).kind for e in timeouts} == {Kind.READ_TIMEOUT}
    assert {classify(TimeoutError()).kind, classify(_raise(TimeoutError())).kind} == {
        Kind.READ_TIMEOUT
    }
    assert classify(TimeoutError()).retryable
