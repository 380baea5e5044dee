"""The SQLite store's migrations (a data table): each entry moves the schema one version
up, numbered in the file's ``user_version``; ``_sqlite.migrate`` runs them."""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

# Each entry moves the schema one version up; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        monitor TEXT NOT NULL,
        ts REAL NOT NULL,
        ok INTEGER NOT NULL,
        kind TEXT,
        latency_ms REAL,
        detail TEXT,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX results_by_monitor ON results (monitor, ts);
    CREATE TABLE rollups (
        monitor TEXT NOT NULL,
        period TEXT NOT NULL,
        start REAL NOT NULL,
        count INTEGER NOT NULL,
        ok_count INTEGER NOT NULL,
        latency_count INTEGER NOT NULL,
        latency_sum REAL NOT NULL,
        latency_min REAL,
        latency_max REAL,
        kinds TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (monitor, period, start)
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        dedup TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        created REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL,
        delivered REAL,
        last_error TEXT
    );
    CREATE INDEX outbox_due ON outbox (delivered, next_at);
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        hint TEXT NOT NULL,
        opened REAL NOT NULL,
        resolved REAL,
        monitors TEXT NOT NULL DEFAULT '[]',
        timeline TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX incidents_open ON incidents (resolved, key);
    CREATE TABLE monitor_state (
        monitor TEXT PRIMARY KEY,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 2: one queue per channel (an alert's dedup key is unique within its channel, so
    # every channel of a monitor gets it); acknowledgement and members of incidents;
    # state changes, from which uptime is computed as time.
    """
    CREATE TABLE outbox_by_channel (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        dedup TEXT NOT NULL,
        payload TEXT NOT NULL,
        created REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL,
        delivered REAL,
        last_error TEXT,
        UNIQUE (channel, dedup)
    );
    INSERT INTO outbox_by_channel SELECT * FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_by_channel RENAME TO outbox;
    CREATE INDEX outbox_waiting ON outbox (channel, id) WHERE delivered IS NULL;
    ALTER TABLE incidents ADD COLUMN acknowledged REAL;
    ALTER TABLE incidents ADD COLUMN members TEXT NOT NULL DEFAULT '{}';
    CREATE TABLE state_changes (
        monitor TEXT NOT NULL,
        at REAL NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (monitor, at)
    ) WITHOUT ROWID;
    """,
    # 3: the shape several instances share on PostgreSQL, kept here too so that one
    # instance on SQLite runs the same code: alerts are claimed by the instance that
    # delivers them, and each monitor's state at its location is kept for the leader.
    """
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN claim_until REAL;
    CREATE TABLE tether_location_states (
        monitor TEXT NOT NULL,
        location TEXT NOT NULL,
        state TEXT NOT NULL,
        since REAL NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        kind TEXT,
        detail TEXT,
        host TEXT,
        latency_ms REAL,
        updated REAL NOT NULL,
        PRIMARY KEY (monitor, location)
    ) WITHOUT ROWID;
    CREATE INDEX tether_location_states_updated ON tether_location_states (updated);
    """,
    # 4: changes made at run time through the write API, which every instance applies:
    # monitors paused and checks asked for, maintenance windows; and the audit log.
    """
    CREATE TABLE tether_controls (
        monitor TEXT PRIMARY KEY,
        paused REAL,
        paused_by TEXT,
        check_at REAL
    ) WITHOUT ROWID;
    CREATE TABLE tether_maintenance (
        id INTEGER PRIMARY KEY,
        monitors TEXT NOT NULL DEFAULT '[]',
        start REAL NOT NULL,
        ends REAL NOT NULL,
        reason TEXT NOT NULL,
        opened_by TEXT NOT NULL,
        closed REAL,
        closed_by TEXT
    );
    CREATE INDEX tether_maintenance_open ON tether_maintenance (closed, ends);
    CREATE TABLE tether_audit (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        who TEXT NOT NULL,
        via TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 5: each push monitor's last heartbeat, which every instance reads: the one that
    # probes it takes a push another instance was sent, and a restart knows it.
    """
    ALTER TABLE tether_controls ADD COLUMN push_at REAL;
    ALTER TABLE tether_controls ADD COLUMN push_ok INTEGER;
    ALTER TABLE tether_controls ADD COLUMN push_detail TEXT;
    ALTER TABLE tether_controls ADD COLUMN push_ms REAL
    """,
    # 6: an incident's members and its timeline in tables of their own, one row a member
    # and one an entry, so that a monitor joining or leaving an incident of thousands
    # writes one row, not the whole incident (issue 23); and the local incident a host's
    # was folded into.  The incidents table is made anew without its JSON columns.
    """
    CREATE TABLE incident_members (
        incident INTEGER NOT NULL,
        monitor TEXT NOT NULL,
        member TEXT NOT NULL,
        PRIMARY KEY (incident, monitor)
    ) WITHOUT ROWID;
    CREATE INDEX incident_members_by_monitor ON incident_members (monitor);
    CREATE TABLE incident_timeline (
        seq INTEGER PRIMARY KEY,
        incident INTEGER NOT NULL,
        entry TEXT NOT NULL
    );
    CREATE INDEX incident_timeline_by_incident ON incident_timeline (incident, seq);
    INSERT INTO incident_members (incident, monitor, member)
    SELECT i.id, m.key, m.value FROM incidents i, json_each(i.members) m;
    INSERT INTO incident_timeline (incident, entry)
    SELECT i.id, t.value FROM incidents i, json_each(i.timeline) t ORDER BY i.id, t.key;
    CREATE TABLE incidents_6 (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        hint TEXT NOT NULL,
        opened REAL NOT NULL,
        resolved REAL,
        monitors TEXT NOT NULL DEFAULT '[]',
        acknowledged REAL,
        folded_into INTEGER
    );
    INSERT INTO incidents_6 (id, key, kind, detail, hint, opened, resolved, monitors,
        acknowledged)
    SELECT id, key, kind, detail, hint, opened, resolved, monitors, acknowledged FROM incidents;
    DROP TABLE incidents;
    ALTER TABLE incidents_6 RENAME TO incidents;
    CREATE INDEX incidents_open ON incidents (resolved, key)
    """,
    # 7: each incident's membership as history, appended to and never rewritten: each
    # monitor with when it joined and left and why, so an outage stays on the record
    # after the monitor is back (issue 24).  An incident stored before is given what is
    # known: its members from when they joined, a resolved one's monitors over its span (an open
    # one's stored before members were kept, from when it opened).
    """
    CREATE TABLE incident_membership (
        seq INTEGER PRIMARY KEY,
        incident INTEGER NOT NULL,
        monitor TEXT NOT NULL,
        at REAL NOT NULL,
        event TEXT NOT NULL,
        why TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX incident_membership_by_incident ON incident_membership (incident, monitor);
    CREATE INDEX incident_membership_in_order ON incident_membership (incident, seq);
    CREATE INDEX incident_membership_by_monitor ON incident_membership (monitor);
    INSERT INTO incident_membership (incident, monitor, at, event, why)
    SELECT m.incident, m.monitor, coalesce(json_extract(m.member, '$.joined'), i.opened),
        'joined', 'down'
    FROM incident_members m JOIN incidents i ON i.id = m.incident
    ORDER BY m.incident, m.monitor;
    INSERT INTO incident_membership (incident, monitor, at, event, why)
    SELECT i.id, j.value, i.opened, 'joined', 'down' FROM incidents i, json_each(i.monitors) j
    WHERE i.resolved IS NOT NULL OR NOT EXISTS
        (SELECT 1 FROM incident_members WHERE incident = i.id) ORDER BY i.id, j.value;
    INSERT INTO incident_membership (incident, monitor, at, event, why)
    SELECT i.id, j.value, i.resolved, 'left', 'up' FROM incidents i, json_each(i.monitors) j
    WHERE i.resolved IS NOT NULL ORDER BY i.id, j.value
    """,
    # 8: nothing here.  PostgreSQL's location states name the transaction that wrote
    # them (see its migration 8); SQLite's one writer commits its rows in the order of
    # their stamps, which is all a read of what changed needs.  The step keeps the two
    # stores' schema versions one number.
    "",
    # 9: alerting a team can run on (issue 26).  Silences, made at run time and kept
    # like the maintenance windows (every instance reads those in force), and the
    # outbox's ``suppressed``: an alert a silence or a muted route kept from its channel
    # is recorded as delivered nowhere, with why, never dropped, so an expired silence
    # does not replay it.  What a channel told is read back by channel and time (the
    # Alertmanager channel rebuilds what it keeps firing from it, on any instance).
    """
    CREATE TABLE tether_silences (
        id INTEGER PRIMARY KEY,
        matchers TEXT NOT NULL,
        starts REAL NOT NULL,
        ends REAL NOT NULL,
        comment TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL,
        created REAL NOT NULL,
        expired REAL,
        expired_by TEXT
    );
    CREATE INDEX tether_silences_by_end ON tether_silences (ends);
    ALTER TABLE outbox ADD COLUMN suppressed TEXT;
    CREATE INDEX outbox_by_channel ON outbox (channel, created)
    """,
    # 10: the agents (issue 28): the batch ids taken, so a batch sent again is stored
    # once, and a row per agent location, read by every instance for its liveness.
    """
    CREATE TABLE tether_agent_batches (
        id TEXT PRIMARY KEY,
        location TEXT NOT NULL,
        taken REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX tether_agent_batches_taken ON tether_agent_batches (taken);
    CREATE TABLE tether_agents (
        location TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        version TEXT NOT NULL,
        last_seen REAL NOT NULL,
        clock_offset REAL NOT NULL,
        results INTEGER NOT NULL DEFAULT 0,
        late INTEGER NOT NULL DEFAULT 0,
        dropped INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID
    """,
    # 11: the screenshot of each browser monitor's last failed check (issue 29).
    """
    CREATE TABLE tether_screenshots (
        monitor TEXT PRIMARY KEY,
        taken REAL NOT NULL,
        png BLOB NOT NULL
    )
    """,
    # 12: (issue 44, section 3) what each agent last said it cannot run of its assignment:
    # JSON, a list of {monitor, why, since}; NULL while it never said (an older agent).
    """
    ALTER TABLE tether_agents ADD COLUMN cannot_run TEXT
    """,
    # 13: what tether status reads as /api/status does (issue 44, "one view"): a lone
    # instance's heartbeat (PostgreSQL's instances have had theirs since 3), and when
    # each monitor's certificate expires.
    """
    CREATE TABLE tether_instances (
        id TEXT PRIMARY KEY,
        location TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started REAL NOT NULL,
        heartbeat REAL NOT NULL,
        leader INTEGER NOT NULL DEFAULT 0,
        shards INTEGER NOT NULL DEFAULT 0,
        version TEXT
    ) WITHOUT ROWID;
    CREATE TABLE tether_certificates (
        monitor TEXT PRIMARY KEY,
        expires REAL NOT NULL
    ) WITHOUT ROWID
    """,
    # 14 (issue 44 section 4): the discovered set, each source's targets (its grace
    # period's too), and a row per source: when its set last changed, when last read.
    """
    CREATE TABLE tether_discovered (
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        address TEXT NOT NULL,
        labels TEXT NOT NULL,
        gone_since REAL,
        PRIMARY KEY (source, name)
    ) WITHOUT ROWID;
    CREATE TABLE tether_discovery_sources (
        source TEXT PRIMARY KEY,
        changed REAL NOT NULL,
        last_success REAL
    ) WITHOUT ROWID
    """,
    # 15 (issue 48): status page subscribers, the news told to them and their outbox,
    # and the updates a team writes on an incident (store/_subscribers.py).
    """
    CREATE TABLE tether_subscribers (
        id INTEGER PRIMARY KEY,
        page TEXT NOT NULL,
        kind TEXT NOT NULL,
        address TEXT NOT NULL,
        token TEXT NOT NULL UNIQUE,
        secret TEXT,
        created REAL NOT NULL,
        confirmed REAL,
        UNIQUE (page, kind, address)
    );
    CREATE TABLE tether_status_news (
        page TEXT NOT NULL,
        key TEXT NOT NULL,
        at REAL NOT NULL,
        noted REAL NOT NULL,
        PRIMARY KEY (page, key)
    ) WITHOUT ROWID;
    CREATE TABLE tether_status_deliveries (
        id INTEGER PRIMARY KEY,
        subscriber INTEGER NOT NULL,
        key TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        next_at REAL NOT NULL,
        delivered REAL,
        gave_up REAL,
        last_error TEXT,
        claimed_by TEXT,
        claim_until REAL,
        UNIQUE (subscriber, key)
    );
    CREATE INDEX tether_status_deliveries_due ON tether_status_deliveries (next_at)
        WHERE delivered IS NULL AND gave_up IS NULL;
    CREATE TABLE tether_incident_updates (
        id INTEGER PRIMARY KEY,
        incident INTEGER NOT NULL,
        at REAL NOT NULL,
        state TEXT NOT NULL,
        text TEXT NOT NULL,
        who TEXT NOT NULL
    );
    CREATE INDEX tether_incident_updates_by_incident ON tether_incident_updates (incident, at)
    """,
    # 16 (issue 48): login sessions, shared by every process and instance of the store
    # and kept across restarts; by the SHA-256 of the session id, never the id
    # (store/_sessions.py).
    """
    CREATE TABLE tether_sessions (
        digest TEXT PRIMARY KEY,
        who TEXT NOT NULL,
        provider TEXT NOT NULL,
        scopes TEXT,
        csrf TEXT NOT NULL,
        credential TEXT NOT NULL,
        began REAL NOT NULL,
        used REAL NOT NULL,
        expires REAL NOT NULL
    );
    CREATE INDEX tether_sessions_by_expiry ON tether_sessions (expires)
    """,
    # 17 (issue 46 §3): the hour's and the day's roll-ups are folded from the results
    # now and then (store/_rollups.py, FOLD_EVERY), no longer batch by batch: the last
    # result folded.  Every result already written was rolled up as it came.
    """
    CREATE TABLE rollups_folded (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        after INTEGER NOT NULL
    );
    INSERT INTO rollups_folded VALUES (1, (SELECT coalesce(max(id), 0) FROM results))
    """,
    # 18 (issue 73 §4): each piece of status page news keeps what was told, so the feed
    # shows it as it was said, never rewritten by the page's later words.
    """
    ALTER TABLE tether_status_news ADD COLUMN body TEXT
    """,
    # 19 (issue 73 item 9): an incident changes scope, partial and full, keeping its id;
    # its membership history says which stints were partial (``partial``), so a status
    # page tells the others alone.  The stints of the partial incidents written before.
    """
    UPDATE incident_membership SET why = 'partial'
    WHERE event = 'joined' AND incident IN (SELECT id FROM incidents WHERE key LIKE 'partial:%')
    """,
)
