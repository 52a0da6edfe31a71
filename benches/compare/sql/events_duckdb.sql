-- DuckDB: load the output of `heatstore normalize` (pre-normalized events).
-- Arrival order (`seq`) is the line order of the file: the staging table is
-- created with insertion order preserved (DuckDB's default), so its rowid is
-- the 0-based line number. Fields a kind does not carry are dropped, as
-- heatstore does on ingest; Do-Not-Track events are dropped (heatstore's
-- default `honour_dnt`).
CREATE TEMP TABLE staging AS
SELECT * FROM read_json(:path, format = 'newline_delimited', columns = {
    site: 'VARCHAR', ts: 'BIGINT', type: 'VARCHAR', session: 'VARCHAR', visitor: 'VARCHAR',
    page: 'VARCHAR', dnt: 'BOOLEAN',
    x: 'BIGINT', y: 'BIGINT', vw: 'BIGINT', vh: 'BIGINT', dh: 'BIGINT', load_ms: 'BIGINT',
    selector: 'VARCHAR', ex: 'BIGINT', ey: 'BIGINT', len: 'BIGINT', duration_ms: 'BIGINT', name: 'VARCHAR',
    attrs: 'STRUCT(entry_page VARCHAR, referrer_host VARCHAR, referrer_domain VARCHAR, channel VARCHAR,
                   utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR, utm_term VARCHAR,
                   utm_content VARCHAR, device VARCHAR, browser VARCHAR, browser_major VARCHAR,
                   os VARCHAR, os_major VARCHAR, screen VARCHAR, lang VARCHAR, tz VARCHAR)'
});

CREATE TABLE events AS
SELECT
    rowid AS seq, site, ts, type, session, visitor, page,
    CASE WHEN type IN ('click', 'move') THEN x END AS x,
    CASE WHEN type IN ('click', 'move', 'scroll') THEN y END AS y,
    CASE WHEN type IN ('pageview', 'click', 'move', 'scroll') THEN vw END AS vw,
    CASE WHEN type IN ('pageview', 'click', 'move', 'scroll') THEN vh END AS vh,
    CASE WHEN type IN ('pageview', 'click', 'move', 'scroll') THEN dh END AS dh,
    CASE WHEN type = 'pageview' THEN load_ms END AS load_ms,
    CASE WHEN type IN ('click', 'input') THEN selector END AS selector,
    CASE WHEN type = 'click' THEN ex END AS ex,
    CASE WHEN type = 'click' THEN ey END AS ey,
    CASE WHEN type = 'input' THEN len END AS len,
    CASE WHEN type = 'leave' THEN duration_ms END AS duration_ms,
    CASE WHEN type = 'custom' THEN name END AS name,
    attrs.entry_page AS entry_page, attrs.referrer_host AS referrer_host,
    attrs.referrer_domain AS referrer_domain, attrs.channel AS channel,
    attrs.utm_source AS utm_source, attrs.utm_medium AS utm_medium,
    attrs.utm_campaign AS utm_campaign, attrs.utm_term AS utm_term,
    attrs.utm_content AS utm_content, attrs.device AS device, attrs.browser AS browser,
    attrs.browser_major AS browser_major, attrs.os AS os, attrs.os_major AS os_major,
    attrs.screen AS screen, attrs.lang AS lang, attrs.tz AS tz
FROM staging
WHERE coalesce(dnt, false) = false;

DROP TABLE staging;
