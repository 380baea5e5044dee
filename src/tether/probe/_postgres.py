"""A ``postgresql://`` check with psycopg 3's asyncio connection (the ``postgres`` extra).

libpq opens its own connection, so after the walk's ``dns`` phase (tether's resolver)
the ``auth`` phase is libpq's whole connection to those addresses: TCP, TLS when
``sslmode`` asks for it, the startup message and authentication; ``query`` is the role
check (``role: primary``) and the query in a ``READ ONLY`` transaction under a
``statement_timeout``.  libpq's messages for a refused port, a timeout or a certificate
keep the walk's kinds (``connect.refused``, ``tls.untrusted``...)."""

from __future__ import annotations

import asyncio
from typing import Any

from tether._classify import classify
from tether._classify._databases import SQLSTATES, connection_kind
from tether._kinds import Kind
from tether.probe._dbcommon import db_failure, first_value, scrub, statement_limit, timeout_ms
from tether.probe._dboptions import DatabaseQuery, DatabaseUrl
from tether.probe._details import DatabaseDetails
from tether.probe._target import Target
from tether.probe._walk_tls import WalkTls


def conninfo(t: Target, addresses: list[str], url: DatabaseUrl, w: WalkTls) -> dict[str, Any]:
    """libpq's parameters: the addresses tether resolved (libpq tries them in turn, the
    first four), the name for TLS, and a TLS mode that verifies unless ``tls.insecure``
    (never libpq's ``prefer``)."""
    o = w.options
    tried = addresses[:4]
    params: dict[str, Any] = {
        "host": ",".join([t.ascii_host] * len(tried)),
        "hostaddr": ",".join(tried),
        "port": ",".join([str(t.port)] * len(tried)),
        "connect_timeout": max(2, int(o.timeout + 0.999)),  # libpq's least is 2 s
        "application_name": "tether",
        "sslmode": "disable",
    }
    if url.tls:
        params["sslmode"] = "require" if o.insecure else "verify-full"
        if not o.insecure:
            params["sslrootcert"] = o.cacert or "system"
    for key, value in (("user", url.user), ("password", url.password), ("dbname", url.database)):
        if value is not None:
            params[key] = value
    return params


async def walk(w: WalkTls, t: Target, url: DatabaseUrl, q: DatabaseQuery) -> None:
    import psycopg

    addresses = await w.resolve(t.ascii_host, t.port, t.url, record=True)
    if addresses is None:
        return
    w.begin("auth")
    details = DatabaseDetails(user=url.user, database=url.database)
    try:
        async with asyncio.timeout(w.options.timeout):
            conn = await psycopg.AsyncConnection.connect(
                **conninfo(t, [a for _, a in addresses], url, w), autocommit=True
            )
    except TimeoutError:
        failure = db_failure(
            Kind.CONNECT_TIMEOUT,
            f"no connection to {t.hostport} within {w.options.timeout:g} s",
            t,
            url,
        )
        w.end(details, failure)
        return
    except psycopg.Error as exc:
        kind, state = connection_kind(str(exc))
        detail = scrub(str(exc), url)
        if kind is Kind.UNKNOWN:
            failure = classify(exc, url=t.url)
            kind, detail = failure.kind, scrub(failure.detail, url)
        w.end(
            DatabaseDetails(user=url.user, database=url.database, error=state),
            db_failure(kind, detail, t, url),
        )
        return
    try:
        version = conn.info.server_version
        major, minor = divmod(version, 10000)
        server = f"PostgreSQL {major}.{minor}"
        w.end(DatabaseDetails(server=server, user=conn.info.user, database=conn.info.dbname))
        await _query(w, t, url, q, conn)
    finally:
        await conn.close()


async def _query(w: WalkTls, t: Target, url: DatabaseUrl, q: DatabaseQuery, conn: Any) -> None:
    import psycopg

    text = q.query or "SELECT 1"
    w.begin("query")
    read_only: bool | None = None
    try:
        async with asyncio.timeout(w.options.timeout), conn.cursor() as cur:
            if q.role == "primary":
                await cur.execute(
                    "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')"
                )
                recovery, default_ro = await cur.fetchone()
                read_only = bool(recovery) or default_ro == "on"
                if read_only:
                    why = (
                        "is in recovery (a standby)"
                        if recovery
                        else "has default_transaction_read_only on"
                    )
                    failure = db_failure(
                        Kind.DB_READ_ONLY, f"role: primary, but the server {why}", t, url
                    )
                    w.end(DatabaseDetails(query=text, read_only=True), failure)
                    return
            await cur.execute("BEGIN TRANSACTION READ ONLY")
            # The server's own limit first, so a slow query is named by its SQLSTATE
            # (57014) rather than cut off by the client.
            ms = timeout_ms(statement_limit(w.options.timeout))
            await cur.execute(f"SET LOCAL statement_timeout = {ms}")
            await cur.execute(text)
            rows = await cur.fetchmany(q.max_rows) if cur.description else []
            await cur.execute("ROLLBACK")
    except TimeoutError:
        failure = db_failure(
            Kind.READ_TIMEOUT,
            f"the query had no answer within {w.options.timeout:g} s",
            t,
            url,
        )
        w.end(DatabaseDetails(query=text, read_only=read_only), failure)
        return
    except psycopg.Error as exc:
        state = exc.sqlstate
        kind = SQLSTATES.get(state or "", Kind.DB_QUERY_FAILED)
        if state is None:  # the connection broke (or the server's bytes did), not the query
            failure = classify(exc, url=t.url)
            said = connection_kind(str(exc))[0]
            kind = failure.kind if failure.kind is not Kind.UNKNOWN else said
            kind = kind if kind is not Kind.UNKNOWN else Kind.DB_QUERY_FAILED
        message = (exc.diag.message_primary if state else None) or str(exc)
        detail = f"the query failed with SQLSTATE {state}: {message}" if state else message
        w.end(
            DatabaseDetails(query=text, read_only=read_only, error=state),
            db_failure(kind, detail, t, url),
        )
        return
    first = first_value(rows[0][0]) if rows and rows[0] else None
    w.end(DatabaseDetails(query=text, result=first, rows=len(rows), read_only=read_only))
