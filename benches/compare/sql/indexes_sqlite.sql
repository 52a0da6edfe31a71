-- SQLite: the indexes a competent user adds for these reports.
CREATE INDEX events_page ON events (site, page, type, ts);
CREATE INDEX events_type ON events (site, type, ts);
CREATE INDEX events_session ON events (site, session, page, type, ts, seq);
CREATE UNIQUE INDEX sessions_id ON sessions (site, session);
CREATE INDEX sessions_first ON sessions (site, first_ts);
ANALYZE;
