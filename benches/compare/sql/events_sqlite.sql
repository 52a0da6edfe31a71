-- SQLite: the events table. compare.py fills it from the output of
-- `heatstore normalize` with executemany in batches, in file order
-- (seq = 0-based line number = arrival order), dropping the fields a kind
-- does not carry and Do-Not-Track events, as heatstore does on ingest.
-- `seq` is the rowid, so joins by seq are lookups.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    site TEXT NOT NULL, ts INTEGER NOT NULL, type TEXT NOT NULL,
    session TEXT NOT NULL, visitor TEXT, page TEXT NOT NULL,
    x INTEGER, y INTEGER, vw INTEGER, vh INTEGER, dh INTEGER, load_ms INTEGER,
    selector TEXT, ex INTEGER, ey INTEGER, len INTEGER, duration_ms INTEGER, name TEXT,
    -- on pageviews: the session attributes heatstore derives
    entry_page TEXT, referrer_host TEXT, referrer_domain TEXT, channel TEXT,
    utm_source TEXT, utm_medium TEXT, utm_campaign TEXT, utm_term TEXT, utm_content TEXT,
    device TEXT, browser TEXT, browser_major TEXT, os TEXT, os_major TEXT,
    screen TEXT, lang TEXT, tz TEXT
);
