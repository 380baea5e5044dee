"""Redaction of credentials in URLs and free text: nothing secret leaves tether.

Every pattern here runs in time linear in its input (a scheme starts only at a word's
start, and every repetition is possessive, so nothing is tried twice), and free text
longer than :data:`LIMIT` is cut before any pattern sees it: a server that sends one
long header line, or a configuration value of a megabyte, costs one pass, not a stall.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from tether._text import visible

MASK = "***"
LIMIT = 65536
"""The most characters of one text that redaction reads; the rest is cut (and said so)."""

# A name is secret when one of its words is: ``accessToken``, ``api-key``, ``X-Amz-Signature``,
# ``db_pass``.  Words are the name's camelCase humps and its -, _ and . separated parts,
# compared whole ("keyword", "author" and "tokenizer" are not secrets), or a run of lower
# case letters that ends in a word that cannot mean anything else ("accesstoken").
_SECRET_WORDS = frozenset(
    {
        "token", "key", "apikey", "secret", "password", "passwd", "pass", "passphrase", "pwd",
        "pw", "sig", "signature", "auth", "authorization", "jwt", "bearer", "credential",
        "credentials", "cred", "creds", "session", "sessionid", "jsessionid", "phpsessid", "sid",
        "cookie", "code", "otp",
    }
)  # fmt: skip
_SECRET_ENDINGS = (
    "token", "secret", "password", "passwd", "pwd", "apikey", "sessionid", "sessid",
    "credential", "credentials", "signature",
)  # fmt: skip
_WORDS = re.compile(r"[A-Z]++(?![a-z])|[A-Z]?[a-z]++|[0-9]++")
# The credential headers, by name: masked wherever tether shows headers, and (with the
# words above) dropped by every redirect that leaves the origin (tether._sensitive).
_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
        "x-amz-security-token",
    }
)


def is_secret_name(name: str) -> bool:
    """Does a parameter, field or header called ``name`` hold a secret?  A name written
    percent-encoded (``pass%77ord``, even twice over) is read decoded, and in any case
    (``PaSsWoRd``)."""
    for _ in range(_DECODINGS):
        if "%" not in name and "+" not in name:
            break
        name = unquote_plus(name)
    lowered = name.lower()
    if lowered in _SECRET_HEADERS:
        return True
    # The camelCase humps, and the parts between separators whatever their case.
    words = [w.lower() for w in _WORDS.findall(name)] + _SEPARATORS.split(lowered)
    return any(
        word in _SECRET_WORDS or (word.endswith(_SECRET_ENDINGS) and word.isalpha())
        for word in words
    )


_DECODINGS = 3
"""How many times a name is percent-decoded: a URL inside a URL's query is encoded twice;
a bound, so a name of ``%25252525...`` costs three passes, not one per ``25``."""
_SEPARATORS = re.compile(r"[^a-z0-9]++")


def redact_url(url: str) -> str:
    """``url`` with its password (or a lone user name, often a token) and secret
    query and fragment values replaced by ``***``.  Never raises; unparsable (or
    longer than :data:`LIMIT`) input is redacted textually."""
    if len(url) <= _CACHED_LENGTH:
        return _redact_url_cached(url)
    return _redact_url(url)


_CACHED_LENGTH = 2048
"""Programs fail against the same few URLs again and again: those up to this long are
redacted once (at most 1,024 of them kept, so at most 2 MiB)."""


def _redact_url(url: str) -> str:
    """:func:`_redact_once` until nothing changes: its output is its own redaction.

    One pass can make a URL that a second pass would mask more: ``urlunsplit`` writes
    ``https:`` and a path ``//u:p@h/`` as ``https://u:p@h/``, a password every client
    reads.  So a pass that changed something is followed by another, and a URL that is
    still changing after :data:`_PASSES` of them is shown as ``***``; a URL with nothing
    to mask takes one pass and comes back as written."""
    if len(url) > LIMIT:
        return redact_text(url)
    for _ in range(_PASSES):
        shown = _redact_once(url)
        if shown == url:
            return shown
        url = shown
    return MASK


_PASSES = 4
"""Passes of :func:`_redact_once` before a URL is given up as ``***``: a user
information, a query and a fragment each masked once, and one pass to see nothing
change."""
_TABS_AND_NEWLINES = str.maketrans("", "", "\t\n\r")


def _redact_once(url: str) -> str:
    # Every parser drops tabs and newlines (``ht\ttps:`` is ``https:``): so does this.
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.translate(_TABS_AND_NEWLINES)
    # First as text: a password may hold '@', '/', '?' or '#' unencoded, which urlsplit
    # would read as the host's or the path's.
    url = _mask_userinfos(url, one_word=True)  # a URL may hold a space: WHATWG keeps it
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if sep else f"{MASK}@{hostport}"
    query = _redact_pairs(parts.query)
    fragment = _redact_pairs(parts.fragment) if "=" in parts.fragment else parts.fragment
    if netloc == parts.netloc and query == parts.query and fragment == parts.fragment:
        return url  # nothing to mask: as written, not in urlsplit's words
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


_redact_url_cached = functools.lru_cache(maxsize=1024)(_redact_url)


def _redact_pairs(query: str) -> str:
    """A query string (or a fragment written like one) with secret values masked."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(is_secret_name(k) for k, _ in pairs):
        return query
    return urlencode([(k, MASK if is_secret_name(k) else v) for k, v in pairs], safe="*")


# ``scheme://``: the scheme starts at a word's start, so a long run of letters is read
# once, not once from each of its positions.  The authority starts after the '//' and
# any more slashes or backslashes; for the schemes WHATWG's URL standard calls special, which is
# how browsers read them, after ``scheme:`` and any run of them, none included:
# ``https:u:p@h``, ``https:\\u:p@h`` and ``https:////u:p@h`` all hold a password.  httpx
# reads a URL without a scheme (``://u:p@h``) too.
_SCHEME = re.compile(
    r"(?<![A-Za-z0-9+.-])(?:(?i:https?+|wss?+|ftp|file):|(?:[A-Za-z][A-Za-z0-9+.-]*+)?+:(?=//))"
    r"[/\\]*+"
)
_AUTHORITY_END = re.compile(r"[/?#]")
_SPACE = re.compile(r"\s")
# ``name=value`` after a URL's ? & ; #, or as a word of its own (``password=x`` in a libpq
# DSN, ``token=x`` in a message); a quoted value runs to its closing quote, or to the end.
# The name may be percent-encoded (``pass%77ord``): it is decoded before it is judged.
_PAIR = re.compile(
    r"(?P<lead>^|[?&;#\s,(\[{])(?P<name>[A-Za-z0-9_.%+-]++)[ \t]*+=[ \t]*+"
    r"(?P<value>'(?:[^'\\]|\\.)*+(?:'|$)|\"(?:[^\"\\]|\\.)*+(?:\"|$)|[^&;#\s'\")\]}]*+)"
)


def redact_text(text: str) -> str:
    """Redact, in free text, the credentials of every URL and every secret ``name=value``
    pair (query parameters, fragments, libpq DSNs).  Text longer
    than :data:`LIMIT` is cut first, and the cut marked."""
    head, mark = _cut(text)
    masked = _mask_userinfos(head)
    if "=" in masked:  # every pair has one: most text has none, and the scan is not free
        masked = _PAIR.sub(_mask_pair, masked)
    return masked + mark


def _mask_userinfos(text: str, *, one_word: bool = False) -> str:
    """``text`` with the user information of every ``scheme://userinfo@host`` masked.

    A password may hold '@', '/', '?' and '#' unencoded (``https://u:SEC@RET@h/``,
    ``https://u:pa/ss@h/``), so when the authority (up to the first '/', '?' or '#') has a
    ':' before any '@', the user information runs to the last '@' of the word: that
    masks the host and path of ``https://u:p@h/@scope`` and the port of
    ``https://h:8080/@scope`` as well, shown too little rather than a secret shown.
    Without such a ':' (a token as the user name) it runs to the authority's last '@'.

    ``one_word``: ``text`` is one URL, whose spaces do not end it (a browser reads
    ``http: u:p@h`` as user `` u`` and password ``p``).

    One pass: each word's end and last '@' are found once, authorities do not overlap
    (the next ``://`` ends the one before), and nothing masked is read again."""
    if "@" not in text:
        return text
    out: list[str] = []
    done = 0  # text[:done] is in out
    word_end = last_at = -1
    for first, start in _authorities(text, one_word):
        if first < done:
            continue  # inside a masked user information
        if start > word_end:
            space = None if one_word else _SPACE.search(text, start)
            word_end = space.start() if space else len(text)
            last_at = text.rfind("@", start, word_end)
        if last_at < start:
            continue  # no '@' in the rest of the word: no user information
        slash = _AUTHORITY_END.search(text, start, word_end)
        authority = text[start : slash.start() if slash else word_end]
        colon, first_at, bracket = (authority.find(c) for c in ":@[")
        # A password starts at a ':' before any '@', and before any '[' (a ':' after
        # one is an IPv6 address's: a user information holds no '[').
        if colon >= 0 and all(other < 0 or colon < other for other in (first_at, bracket)):
            at = last_at
        elif first_at >= 0:
            at = start + authority.rfind("@")
        else:
            continue
        out += (text[done:start], _mask_userinfo(text[start:at]))
        done = at
    return "".join(out) + text[done:] if out else text


def _authorities(text: str, one_word: bool) -> Iterator[tuple[int, int]]:
    """Where each ``scheme://`` in ``text`` starts, and where its authority does; in one
    URL (``one_word``) that does not start with a scheme or a '/', the authority starts at
    its start, as urllib3 reads ``x@h/`` or `` u:p@h/`` (user ``x``, user `` u``)."""
    if one_word and not _STARTS_WITH_SCHEME.match(text):
        yield 0, 0
    for m in _SCHEME.finditer(text):
        yield m.start(), m.end()


_STARTS_WITH_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+-]*+:|/")
"""urllib3's reading: a URL that does not start so starts with its authority."""


def _cut(text: str, limit: int = LIMIT) -> tuple[str, str]:
    """The first ``limit`` characters or so of ``text``, and the mark that says what was
    cut.  The cut drops the word it falls in as well: half a URL may have lost the ``@``
    that marks its password, or half a pair its name, and would then show unredacted."""
    if len(text) <= limit:
        return text, ""
    head = text[:limit]
    end = max(head.rfind(c) for c in " \t\r\n")
    head = head[: end + 1] if end >= 0 else ""
    return head, f"[… {len(text) - len(head)} characters cut]"


def _mask_pair(m: re.Match[str]) -> str:
    name = m["name"]
    if is_secret_name(name):
        return f"{m['lead']}{name}={MASK}"
    return m[0]


def _mask_userinfo(userinfo: str) -> str:
    user, sep, _ = userinfo.partition(":")
    return f"{user}:{MASK}" if sep else MASK


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with the values of credential-bearing headers masked (those
    whose name says so too: ``X-Vault-Token``, ``X-Session-Id``)."""
    return {k: MASK if is_secret_name(k) else v for k, v in headers.items()}


_WHOLE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*+://\S*+")


def redact(text: str) -> str:
    """``text`` with its credentials masked: parsed as a URL when it is one (a password may
    hold '@'), otherwise every URL in it searched."""
    if len(text) <= LIMIT and _WHOLE_URL.fullmatch(text):
        return redact_url(text)
    return redact_text(text)


def redact_apprise(url: str) -> str:
    """An apprise URL keeps its tokens in the path (``slack://T/B/XXXX``): only its scheme
    is shown."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://{MASK}" if sep else MASK


def redact_exception(exc: BaseException) -> None:
    """Redact, in place, the message of ``exc`` and of every exception in its
    ``__cause__``/``__context__`` chain: a requests or urllib3 error names the URL it
    failed on, credentials and all.  ``args`` are rewritten, so ``str``, ``repr`` and a
    printed traceback show the redacted text."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        with contextlib.suppress(AttributeError, TypeError):  # one that will not change
            e.args = tuple(_redact_arg(a) for a in e.args)
        for name in ("url", "filename"):
            value = getattr(e, name, None)
            if isinstance(value, str):
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(e, name, redact(value))
        todo += [e.__cause__, e.__context__]
        todo += [a for a in e.args if isinstance(a, BaseException)]
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)


def _redact_arg(arg: object) -> object:
    return redact(arg) if isinstance(arg, str) else arg


def quote(text: str, width: int = 60) -> str:
    """``text`` as a message shows what someone wrote: redacted, in JSON quotes, and cut
    (ending in ``…"``) to stay under ``width`` characters.  Redacted before the cut: a cut
    URL loses the '@' that marks its password.  A character that would hide or reorder
    the message (a control, a bidirectional override, a lone surrogate) is escaped."""
    import json  # loaded by the first message that quotes, not by `import tether`

    shown = visible(json.dumps(redact(text), ensure_ascii=False))
    return shown if len(shown) <= width else shown[: width - 4] + '…"'
