-- Every event of one session, in (ts, arrival) order.
SELECT ts, type, page, x, y, vw, vh, dh, load_ms, selector, ex, ey, len, duration_ms, name
FROM events
WHERE site = :site AND session = :session
ORDER BY ts, seq;
