"""Redaction of credentials in URLs and free text: nothing secret leaves tether."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query parameters whose values are secrets often enough to hide always.
_SECRET_PARAMS = re.compile(
    r"(?i)^(.*[-_])?(token|key|apikey|api_key|secret|password|passwd|pwd|sig|signature|"
    r"auth|authorization|credential|credentials|session|sessionid|session_id|jsessionid|"
    r"phpsessid|sid|access_token|code)$"
)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s?#]*)@")
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


def redact_url(url: str) -> str:
    """``url`` with its password (or a lone user name, often a token) and secret
    query values replaced by ``***``.  Never raises; unparsable input is
    redacted textually."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, sep, _password = userinfo.partition(":")
            netloc = f"{user}:{MASK}@{hostport}" if sep else f"{MASK}@{hostport}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(_SECRET_PARAMS.match(k) for k, _ in pairs):
                query = urlencode(
                    [(k, MASK if _SECRET_PARAMS.match(k) else v) for k, v in pairs], safe="*"
                )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return redact_text(url)


def redact_text(text: str) -> str:
    """Redact the credentials and secret query values of every URL found in ``text``."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{_mask_userinfo(m['userinfo'])}@", text)
    return _QUERY_PAIR.sub(_mask_pair, text)


_QUERY_PAIR = re.compile(r"(?P<lead>[?&;#])(?P<name>[A-Za-z0-9_.-]+)=(?P<value>[^&;#\s'\")]*)")


def _mask_pair(m: re.Match[str]) -> str:
    if _SECRET_PARAMS.match(m["name"]):
        return f"{m['lead']}{m['name']}={MASK}"
    return m[0]


def _mask_userinfo(userinfo: str) -> str:
    user, sep, _ = userinfo.partition(":")
    return f"{user}:{MASK}" if sep else MASK


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with the values of credential-bearing headers masked."""
    return {k: MASK if k.lower() in _SECRET_HEADERS else v for k, v in headers.items()}


_WHOLE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")


def redact(text: str) -> str:
    """``text`` with its credentials masked: parsed as a URL when it is one (a password may
    hold '@'), otherwise every URL in it searched."""
    return redact_url(text) if _WHOLE_URL.fullmatch(text) else redact_text(text)


def redact_apprise(url: str) -> str:
    """An apprise URL keeps its tokens in the path (``slack://T/B/XXXX``): only its scheme
    is shown."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://{MASK}" if sep else MASK


def quote(text: str, width: int = 60) -> str:
    """``text`` as a message shows what someone wrote: redacted, in JSON quotes, and cut
    (ending in ``…"``) to stay under ``width`` characters.  Redacted before the cut: a cut
    URL loses the '@' that marks its password."""
    shown = json.dumps(redact(text), ensure_ascii=False)
    return shown if len(shown) <= width else shown[: width - 4] + '…"'
