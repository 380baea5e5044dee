"""Uptime Kuma's database, built in a test: ``kuma.db`` as versions 1.23 and 2.x make it.

The tables and columns are Uptime Kuma's own, read in louislam/uptime-kuma:

- ``DDL_1_23``: the ``CREATE TABLE`` statements of the tables the importer reads, as they
  stand in a 1.23.16 database: the template ``db/kuma.db`` after ``db/patch1.sql`` ..
  ``db/patch10.sql`` and every ``db/patch-*.sql`` in ``server/database.js``'s
  ``patchList`` (tag 1.23.16), applied in that order.  (The text is what SQLite keeps in
  ``sqlite_master`` after those patches; ``heartbeat``, ``stat_*`` and the other tables
  the importer does not read are not made.)
- ``ALTER_2_X``: what ``db/knex_migrations/*.js`` of tag 2.0.2 add to those tables on
  SQLite (2.x starts a SQLite database from the same template and patches, now in
  ``db/old_migrations/``), and knex's own ``knex_migrations`` table that records them.

``build_kuma_db(path, version, targets)`` fills them with a monitor of every type Kuma
has, notifications of several providers, tags, status pages, maintenance windows, a
paused monitor, a group and a push monitor, pointed at loopback targets.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DDL_1_23 = r"""
CREATE TABLE [user](
  [id] INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  [username] VARCHAR(255) NOT NULL UNIQUE,
  [password] VARCHAR(255),
  [active] BOOLEAN NOT NULL DEFAULT 1,
  [timezone] VARCHAR(150), twofa_secret VARCHAR(64), twofa_status BOOLEAN default 0 NOT NULL, twofa_last_token VARCHAR(6));

CREATE TABLE "setting"
(
    id INTEGER
        primary key autoincrement,
    key VARCHAR(200) not null
        unique,
    value TEXT,
    type VARCHAR(20)
);

CREATE TABLE [notification](
  [id] INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  [name] VARCHAR(255),
  [active] BOOLEAN NOT NULL DEFAULT 1,
  [user_id] INTEGER NOT NULL, is_default BOOLEAN default 0 NOT NULL, config TEXT);

CREATE TABLE [monitor_notification](
  [id] INTEGER PRIMARY KEY NOT NULL,
  [monitor_id] INTEGER NOT NULL REFERENCES [monitor]([id]) ON DELETE CASCADE ON UPDATE CASCADE,
  [notification_id] INTEGER NOT NULL REFERENCES [notification]([id]) ON DELETE CASCADE ON UPDATE CASCADE);

CREATE TABLE "monitor" (
    id INTEGER not null primary key autoincrement,
    name VARCHAR(150),
    active BOOLEAN default 1 not null,
    user_id INTEGER references user on update cascade on delete
    set
        null,
        interval INTEGER default 20 not null,
        url TEXT,
        type VARCHAR(20),
        weight INTEGER default 2000,
        hostname VARCHAR(255),
        port INTEGER,
        created_date DATETIME default (DATETIME('now')) not null,
        keyword VARCHAR(255),
        maxretries INTEGER NOT NULL DEFAULT 0,
        ignore_tls BOOLEAN default 0 not null,
        upside_down BOOLEAN default 0 not null,
        maxredirects INTEGER default 10 not null,
        accepted_statuscodes_json TEXT default '["200-299"]' not null
, dns_resolve_type VARCHAR(5), dns_resolve_server VARCHAR(255), dns_last_result VARCHAR(255), retry_interval INTEGER default 0 not null, push_token VARCHAR(20) DEFAULT NULL, method TEXT default 'GET' not null, body TEXT default null, headers TEXT default null, basic_auth_user TEXT default null, basic_auth_pass TEXT default null, docker_host INTEGER REFERENCES docker_host(id), docker_container VARCHAR(255), proxy_id INTEGER REFERENCES proxy(id), expiry_notification BOOLEAN default 1, mqtt_topic TEXT, mqtt_success_message VARCHAR(255), mqtt_username VARCHAR(255), mqtt_password VARCHAR(255), database_connection_string VARCHAR(2000), database_query TEXT, auth_method VARCHAR(250), auth_domain TEXT, auth_workstation TEXT, grpc_url VARCHAR(255) default null, grpc_protobuf TEXT default null, grpc_body TEXT default null, grpc_metadata TEXT default null, grpc_method VARCHAR(255) default null, grpc_service_name VARCHAR(255) default null, grpc_enable_tls BOOLEAN default 0 not null, radius_username VARCHAR(255), radius_password VARCHAR(255), radius_calling_station_id VARCHAR(50), radius_called_station_id VARCHAR(50), radius_secret VARCHAR(255), resend_interval INTEGER default 0 not null, packet_size INTEGER DEFAULT 56 NOT NULL, game VARCHAR(255), http_body_encoding VARCHAR(25), description TEXT default null, tls_ca TEXT default null, tls_cert TEXT default null, tls_key TEXT default null, parent INTEGER REFERENCES [monitor] ([id]) ON DELETE SET NULL ON UPDATE CASCADE, invert_keyword BOOLEAN default 0 not null, json_path TEXT, expected_value VARCHAR(255), kafka_producer_topic VARCHAR(255), kafka_producer_brokers TEXT, kafka_producer_sasl_options TEXT, kafka_producer_message TEXT, oauth_client_id TEXT default null, oauth_client_secret TEXT default null, oauth_token_url TEXT default null, oauth_scopes TEXT default null, oauth_auth_method TEXT default null, timeout DOUBLE default 0 not null, gamedig_given_port_only BOOLEAN default 1 not null, kafka_producer_ssl BOOLEAN default 0 NOT NULL, kafka_producer_allow_auto_topic_creation BOOLEAN default 0 NOT NULL);

CREATE TABLE tag (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(255) NOT NULL,
    color VARCHAR(255) NOT NULL,
    created_date DATETIME DEFAULT (DATETIME('now')) NOT NULL
);

CREATE TABLE monitor_tag (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    monitor_id INTEGER NOT NULL,
    tag_id INTEGER NOT NULL,
    value TEXT,
    CONSTRAINT FK_tag FOREIGN KEY (tag_id) REFERENCES tag(id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT FK_monitor FOREIGN KEY (monitor_id) REFERENCES monitor(id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE [status_page](
    [id] INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    [slug] VARCHAR(255) NOT NULL UNIQUE,
    [title] VARCHAR(255) NOT NULL,
    [description] TEXT,
    [icon] VARCHAR(255) NOT NULL,
    [theme] VARCHAR(30) NOT NULL,
    [published] BOOLEAN NOT NULL DEFAULT 1,
    [search_engine_index] BOOLEAN NOT NULL DEFAULT 1,
    [show_tags] BOOLEAN NOT NULL DEFAULT 0,
    [password] VARCHAR,
    [created_date] DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    [modified_date] DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
, footer_text TEXT, custom_css TEXT, show_powered_by BOOLEAN NOT NULL DEFAULT 1, google_analytics_tag_id VARCHAR, show_certificate_expiry BOOLEAN default 0 NOT NULL);

CREATE TABLE `group`
(
    id           INTEGER      not null
        constraint group_pk
            primary key autoincrement,
    name         VARCHAR(255) not null,
    created_date DATETIME              default (DATETIME('now')) not null,
    public       BOOLEAN               default 0 not null,
    active       BOOLEAN               default 1 not null,
    weight       BOOLEAN      NOT NULL DEFAULT 1000
, status_page_id INTEGER);

CREATE TABLE [monitor_group]
(
    [id]         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    [monitor_id] INTEGER                           NOT NULL REFERENCES [monitor] ([id]) ON DELETE CASCADE ON UPDATE CASCADE,
    [group_id]   INTEGER                           NOT NULL REFERENCES [group] ([id]) ON DELETE CASCADE ON UPDATE CASCADE,
    weight BOOLEAN NOT NULL DEFAULT 1000
, send_url BOOLEAN DEFAULT 0 NOT NULL);

CREATE TABLE [maintenance] (
    [id] INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    [title] VARCHAR(150) NOT NULL,
    [description] TEXT NOT NULL,
    [user_id] INTEGER REFERENCES [user]([id]) ON DELETE SET NULL ON UPDATE CASCADE,
    [active] BOOLEAN NOT NULL DEFAULT 1,
    [strategy] VARCHAR(50) NOT NULL DEFAULT 'single',
    [start_date] DATETIME,
    [end_date] DATETIME,
    [start_time] TIME,
    [end_time] TIME,
    [weekdays] VARCHAR2(250) DEFAULT '[]',
    [days_of_month] TEXT DEFAULT '[]',
    [interval_day] INTEGER
, cron TEXT, timezone VARCHAR(255), duration INTEGER);

CREATE TABLE incident
(
    id INTEGER not null
        constraint incident_pk
            primary key autoincrement,
    title VARCHAR(255) not null,
    content TEXT not null,
    style VARCHAR(30) default 'warning' not null,
    created_date DATETIME default (DATETIME('now')) not null,
    last_updated_date DATETIME,
    pin BOOLEAN default 1 not null,
    active BOOLEAN default 1 not null
, status_page_id INTEGER);

CREATE TABLE monitor_maintenance (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    monitor_id INTEGER NOT NULL,
    maintenance_id INTEGER NOT NULL,
    CONSTRAINT FK_maintenance FOREIGN KEY (maintenance_id) REFERENCES maintenance (id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT FK_monitor FOREIGN KEY (monitor_id) REFERENCES monitor (id) ON DELETE CASCADE ON UPDATE CASCADE
);
"""  # noqa: E501 (Kuma's text as SQLite keeps it, long lines and all)

# db/knex_migrations/*.js (tag 2.0.2) that touch the tables above, as knex runs them on
# SQLite (ALTER TABLE ... ADD COLUMN); the file each comes from is its name in
# knex_migrations.
ALTER_2_X = {
    "2023-10-08-0000-mqtt-query.js": [
        "ALTER TABLE monitor ADD COLUMN mqtt_check_type varchar(255) NOT NULL DEFAULT 'keyword'"
    ],
    "2023-10-16-0000-create-remote-browsers.js": [
        "ALTER TABLE monitor ADD COLUMN remote_browser integer NULL DEFAULT NULL"
    ],
    "2023-12-20-0000-alter-status-page.js": [
        "ALTER TABLE status_page ADD COLUMN auto_refresh_interval integer DEFAULT '300'"
    ],
    "2024-04-26-0000-snmp-monitor.js": [
        "ALTER TABLE monitor ADD COLUMN snmp_oid varchar(255) DEFAULT NULL",
        "ALTER TABLE monitor ADD COLUMN snmp_version varchar(255) DEFAULT '2c'",
        "ALTER TABLE monitor ADD COLUMN json_path_operator varchar(255) DEFAULT NULL",
    ],
    "2024-08-24-000-add-cache-bust.js": [
        "ALTER TABLE monitor ADD COLUMN cache_bust boolean NOT NULL DEFAULT '0'"
    ],
    "2024-08-24-0000-conditions.js": [
        "ALTER TABLE monitor ADD COLUMN conditions text NOT NULL DEFAULT '[]'"
    ],
    "2024-10-1315-rabbitmq-monitor.js": [
        "ALTER TABLE monitor ADD COLUMN rabbitmq_nodes text",
        "ALTER TABLE monitor ADD COLUMN rabbitmq_username varchar(255)",
        "ALTER TABLE monitor ADD COLUMN rabbitmq_password varchar(255)",
    ],
    "2025-01-01-0000-add-smtp.js": [
        "ALTER TABLE monitor ADD COLUMN smtp_security varchar(255) DEFAULT NULL"
    ],
    "2025-03-04-0000-ping-advanced-options.js": [
        "ALTER TABLE monitor ADD COLUMN ping_count integer NOT NULL DEFAULT '1'",
        "ALTER TABLE monitor ADD COLUMN ping_numeric boolean NOT NULL DEFAULT '1'",
        "ALTER TABLE monitor ADD COLUMN ping_per_request_timeout integer NOT NULL DEFAULT '2'",
    ],
    "2025-06-03-0000-add-ip-family.js": [
        "ALTER TABLE monitor ADD COLUMN ip_family varchar(4) DEFAULT NULL"
    ],
    "2025-06-11-0000-add-manual-monitor.js": [
        "ALTER TABLE monitor ADD COLUMN manual_status smallint DEFAULT NULL"
    ],
    "2025-06-24-0000-add-audience-to-oauth.js": [
        "ALTER TABLE monitor ADD COLUMN oauth_audience varchar(255) NULL DEFAULT NULL"
    ],
}
# knex's own bookkeeping, as knex creates it on SQLite.
KNEX = """
CREATE TABLE `knex_migrations` (`id` integer not null primary key autoincrement,
  `name` varchar(255), `batch` integer, `migration_time` datetime);
CREATE TABLE `knex_migrations_lock` (`index` integer not null primary key autoincrement,
  `is_locked` integer);
"""

# Kuma's types tether has no check of (1.23's, then those 2.x added).
UNSUPPORTED_1_23 = (
    "docker", "grpc-keyword", "steam", "gamedig", "mqtt", "kafka-producer",
    "sqlserver", "postgres", "mysql", "mongodb", "radius", "redis", "tailscale-ping",
)  # fmt: skip
UNSUPPORTED_2_X = ("snmp", "rabbitmq", "manual")

PUSH_TOKENS = {"1.23": "k7Qx2mZ9pL", "2.x": "Kx9fQ2mZ7pLw4tRv8bNc3hJd6sYg1aUe"}
"""A push token as each version makes them: genSecret(10) in 1.23's EditMonitor.vue,
pushTokenLength = 32 in 2.x's."""
DESCRIPTION = "The public web site, as customers see it"
BOT_TOKEN = "123456789:AAHk-TelegramBotTokenSecret"
DISCORD_HOOK = "https://discord.com/api/webhooks/1122334455/DiscordSecretToken-xyz"
WEBHOOK_URL = "https://hooks.corp.test/kuma/WebhookSecretPath42"
SECRETS = (BOT_TOKEN, "DiscordSecretToken-xyz", "WebhookSecretPath42", "SmtpPassword!7")


@dataclass(frozen=True, slots=True)
class Targets:
    """Where the Kuma monitors point: loopback servers the test started."""

    healthy: str  # http URL answering 200 "ok"
    refused: str  # http URL nothing listens on
    not_found: str  # http URL answering 404
    json: str  # http URL of tests' JSON server: {"status": "ok", "count": 3}
    echo: str  # http URL that answers 200 only to POST, X-Kuma: yes, body {"a": 1}
    guarded: str  # http URL that answers 200 only with basic auth kuma:s3cret
    tcp_open: int
    tcp_closed: int
    resolver: str  # host:port of a DNS server that knows ok.lab.test


def insert(db: sqlite3.Connection, table: str, **row: Any) -> int:
    columns = ", ".join(f'"{k}"' for k in row)
    marks = ", ".join("?" for _ in row)
    cursor = db.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', tuple(row.values()))
    return int(cursor.lastrowid or 0)


def build_kuma_db(path: Path, version: str, t: Targets) -> dict[str, str]:
    """Make ``kuma.db`` at ``path`` as Kuma ``version`` ("1.23" or "2.x") would hold it;
    returns each monitor's name and the state Kuma would find it in ("up", "down"), or
    "out" for what tether leaves out and "paused"/"push" for what it does not probe."""
    db = sqlite3.connect(path)
    db.executescript(DDL_1_23)
    if version == "2.x":
        db.executescript(KNEX)
        for n, (name, statements) in enumerate(ALTER_2_X.items()):
            for statement in statements:
                db.execute(statement)
            insert(db, "knex_migrations", name=name, batch=1, migration_time=n)
    insert(db, "setting", key="database_version", value="10", type=None)
    insert(db, "user", username="admin", password="$2a$10$hash", active=1)
    expected: dict[str, str] = {}

    def monitor(name: str, kind: str, state: str, **columns: Any) -> int:
        expected[name] = state
        row = {"name": name, "type": kind, "user_id": 1, "interval": 60, "timeout": 48}
        return insert(db, "monitor", **(row | columns))

    host, port = t.resolver.rsplit(":", 1)
    core = monitor("Core", "group", "out")
    web = monitor("web ok", "http", "up", url=t.healthy, parent=core, maxretries=1,
                  retry_interval=20, resend_interval=10, description=DESCRIPTION)  # fmt: skip
    monitor("web refused", "http", "down", url=t.refused)
    monitor("web 404 accepted", "http", "up", url=t.not_found,
            accepted_statuscodes_json='["404"]')  # fmt: skip
    monitor("web 404", "http", "down", url=t.not_found)
    monitor("web 2xx or 404", "http", "up", url=t.not_found,
            accepted_statuscodes_json='["200-299", "404"]')  # fmt: skip
    monitor("keyword ok", "keyword", "up", url=t.healthy, keyword="ok")
    monitor("keyword missing", "keyword", "down", url=t.healthy, keyword="healthy")
    monitor("keyword inverted", "keyword", "up", url=t.healthy, keyword="error", invert_keyword=1)
    monitor("json ok", "json-query", "up", url=t.json, json_path="status", expected_value="ok")
    monitor("json count", "json-query", "up", url=t.json, json_path="$.count", expected_value="3")
    monitor("json wrong", "json-query", "down", url=t.json, json_path="status",
            expected_value="down")  # fmt: skip
    monitor("json expression", "json-query", "up", url=t.json,
            json_path="$count($keys($))", expected_value="2")  # fmt: skip
    monitor("post with headers", "http", "up", url=t.echo, method="POST", body='{"a": 1}',
            headers='{"X-Kuma": "yes"}', http_body_encoding="json")  # fmt: skip
    monitor("basic auth", "http", "up", url=t.guarded, auth_method="basic",
            basic_auth_user="kuma", basic_auth_pass="s3cret")  # fmt: skip
    monitor("no verify", "http", "up", url=t.healthy, ignore_tls=1)
    monitor("upside down", "http", "out", url=t.refused, upside_down=1)
    port_open = monitor("port open", "port", "up", hostname="127.0.0.1", port=t.tcp_open,
                        parent=core)  # fmt: skip
    monitor("port closed", "port", "down", hostname="127.0.0.1", port=t.tcp_closed)
    monitor("ping", "ping", "up", hostname="127.0.0.1")
    dns_ok = monitor("dns ok", "dns", "up", hostname="ok.lab.test", dns_resolve_type="A",
                     dns_resolve_server=host, port=int(port))  # fmt: skip
    monitor("dns gone", "dns", "down", hostname="nx.lab.test", dns_resolve_type="A",
            dns_resolve_server=host, port=int(port))  # fmt: skip
    monitor("dns caa", "dns", "out", hostname="ok.lab.test", dns_resolve_type="CAA",
            dns_resolve_server=host, port=int(port))  # fmt: skip
    monitor("heartbeat", "push", "push", push_token=PUSH_TOKENS[version], interval=300)
    monitor("browser page", "real-browser", "browser", url=t.healthy)
    monitor("paused web", "http", "paused", url=t.healthy, active=0)
    docker = 0
    for kind in UNSUPPORTED_1_23 + (UNSUPPORTED_2_X if version == "2.x" else ()):
        made = monitor(f"a {kind}", kind, "out", hostname="127.0.0.1", port=t.tcp_open)
        docker = docker or made
    if version == "2.x":
        monitor("smtp", "smtp", "down", hostname="127.0.0.1", port=t.tcp_closed,
                smtp_security="nostarttls")  # fmt: skip
        monitor("ping twice", "ping", "up", hostname="127.0.0.1", ping_count=2)
        monitor("json count above", "json-query", "up", url=t.json, json_path="count",
                expected_value="2", json_path_operator=">")  # fmt: skip

    notifications = {
        "Telegram": {"type": "telegram", "telegramBotToken": BOT_TOKEN,
                     "telegramChatID": "-1001234"},
        "Discord": {"type": "discord", "discordWebhookUrl": DISCORD_HOOK},
        "Slack": {"type": "slack",
                  "slackwebhookURL": "https://hooks.slack.com/services/T0A/B0B/SlackC0"},
        "Teams": {"type": "teams",
                  "webhookUrl": "https://acme.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d"},
        "Pushover": {"type": "pushover", "pushoveruserkey": "uKey1", "pushoverapptoken": "aTok2"},
        "Gotify": {"type": "gotify", "gotifyserverurl": "https://gotify.example",
                   "gotifyapplicationToken": "GotifyTok"},
        "ntfy": {"type": "ntfy", "ntfyserverurl": "https://ntfy.sh", "ntfytopic": "kuma-alerts"},
        "Matrix": {"type": "matrix", "homeserverUrl": "https://matrix.example",
                   "internalRoomId": "!room:matrix.example", "accessToken": "MatrixTok"},
        "Mail": {"type": "smtp", "smtpHost": "smtp.corp.test", "smtpPort": 587,
                 "smtpUsername": "kuma", "smtpPassword": "SmtpPassword!7",
                 "smtpFrom": "kuma@corp.test", "smtpTo": "ops@corp.test"},
        "Hook": {"type": "webhook", "webhookURL": WEBHOOK_URL, "webhookContentType": "json"},
        "Signal": {"type": "signal", "signalURL": "http://127.0.0.1:8080"},
    }  # fmt: skip
    ids = {
        name: insert(db, "notification", name=name, config=json.dumps(config), user_id=1)
        for name, config in notifications.items()
    }
    insert(db, "notification", name="Old", config='{"type": "discord"}', user_id=1, active=0)
    for notification in ("Telegram", "Hook", "Signal", "Mail"):
        insert(db, "monitor_notification", monitor_id=web, notification_id=ids[notification])
    insert(db, "monitor_notification", monitor_id=dns_ok, notification_id=ids["Discord"])

    tags = {n: insert(db, "tag", name=n, color="#fff") for n in ("env", "team-name", "monitor")}
    for tag, value in (("env", "prod"), ("team-name", "core"), ("monitor", "x")):
        insert(db, "monitor_tag", monitor_id=web, tag_id=tags[tag], value=value)
    insert(db, "monitor_tag", monitor_id=port_open, tag_id=tags["env"], value="")

    page = insert(db, "status_page", slug="public", title="Public status", icon="/icon.svg",
                   theme="light", description="How we are doing", footer_text="(c) us")  # fmt: skip
    insert(db, "status_page", slug="draft", title="Draft", icon="/icon.svg", theme="light",
            published=0)  # fmt: skip
    services = insert(db, "group", name="Services", status_page_id=page, public=1, weight=1)
    other = insert(db, "group", name="Other", status_page_id=page, public=1, weight=2)
    for n, member in enumerate((web, port_open, docker)):
        insert(db, "monitor_group", monitor_id=member, group_id=services, weight=n)
    insert(db, "monitor_group", monitor_id=dns_ok, group_id=other, weight=1)
    insert(db, "incident", title="Slow logins", content="We are **looking** into it.",
           style="danger", created_date="2030-01-01 09:30:00", pin=1,
           status_page_id=page)  # fmt: skip
    insert(db, "incident", title="Old news", content="Fixed.", style="info", pin=0,
           status_page_id=page)  # fmt: skip

    once = insert(db, "maintenance", title="Upgrade", description="The database's",
                   strategy="single",
                   start_date="2030-01-01 22:00:00", end_date="2030-01-02 01:00:00",
                   timezone="Europe/Paris")  # fmt: skip
    weekly = insert(db, "maintenance", title="Backups", description="", strategy="cron",
                     cron="30 2 * * 1-5", duration=2700, timezone="UTC")  # fmt: skip
    monthly = insert(db, "maintenance", title="Patching", description="",
                      strategy="recurring-day-of-month", cron="0 3 1 * *", duration=3600,
                      timezone="UTC")  # fmt: skip
    insert(db, "maintenance", title="By hand", description="", strategy="manual")
    for window in (once, weekly, monthly):
        insert(db, "monitor_maintenance", monitor_id=web, maintenance_id=window)
    db.commit()
    db.close()
    return expected


def channel_urls(config: Mapping[str, Any]) -> list[str]:
    """Every apprise URL of an imported configuration's channels."""
    return [str(c["url"]) for c in config.get("alerts", []) if c["type"] == "apprise"]


class _Handler(BaseHTTPRequestHandler):
    """/json: a JSON body; /echo: 200 only to POST, X-Kuma: yes, a JSON body {"a": 1};
    /guarded: 200 only with basic auth kuma:s3cret."""

    def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/json":
            self._answer(200, b'{"status": "ok", "count": 3}')
        elif self.path == "/guarded":
            good = "Basic " + base64.b64encode(b"kuma:s3cret").decode()
            self._answer(200 if self.headers.get("Authorization") == good else 401, b"{}")
        else:
            self._answer(405 if self.path == "/echo" else 404, b"{}")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        right = (
            self.path == "/echo"
            and self.headers.get("X-Kuma") == "yes"
            and self.headers.get("Content-Type") == "application/json"
            and json.loads(body or b"null") == {"a": 1}
        )
        self._answer(200 if right else 400, b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def http_target() -> Iterator[str]:
    """A real HTTP server on loopback for the json-query, POST and basic-auth monitors:
    its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


OFFLINE = Targets(
    healthy="http://127.0.0.1:9/health",
    refused="http://127.0.0.1:9/refused",
    not_found="http://127.0.0.1:9/missing",
    json="http://127.0.0.1:9/json",
    echo="http://127.0.0.1:9/echo",
    guarded="http://127.0.0.1:9/guarded",
    tcp_open=9,
    tcp_closed=9,
    resolver="127.0.0.1:53",
)
"""Targets for a test that imports without probing: loopback, never contacted."""


def docs_kuma_db(path: Path) -> None:
    """The small kuma.db of docs/migrating.md's example (1.23): a keyword monitor with a
    tag and a Telegram notification, a port monitor in a group, a Redis monitor."""
    db = sqlite3.connect(path)
    db.executescript(DDL_1_23)
    insert(db, "setting", key="database_version", value="10")
    insert(db, "user", username="admin", password="$2a$10$hash")
    site = insert(db, "monitor", name="Backend", type="group", user_id=1)
    api = insert(db, "monitor", name="api", type="keyword", url="http://127.0.0.1:8080/health",
                 keyword="ok", interval=30, timeout=24, maxretries=1, retry_interval=30,
                 parent=site, user_id=1)  # fmt: skip
    insert(db, "monitor", name="db", type="port", hostname="127.0.0.1", port=5432, interval=60,
           timeout=48, parent=site, user_id=1)  # fmt: skip
    insert(db, "monitor", name="cache", type="redis", user_id=1,
           database_connection_string="redis://127.0.0.1:6379")  # fmt: skip
    chat = insert(db, "notification", name="ops chat", user_id=1, config=json.dumps(
        {"type": "telegram", "telegramBotToken": "123456:ABC-DEF", "telegramChatID": "-100200"}
    ))  # fmt: skip
    insert(db, "monitor_notification", monitor_id=api, notification_id=chat)
    tier = insert(db, "tag", name="tier", color="#f00")
    insert(db, "monitor_tag", monitor_id=api, tag_id=tier, value="1")
    db.commit()
    db.close()
