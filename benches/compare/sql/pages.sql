-- Pages of the site in range (no page filter): pageviews, distinct
-- visitors (the sessions' visitors), entries (sessions whose first pageview
-- is in range, by entry page) and mean load time over the pageviews that
-- gave one. Bots left out. The row with a NULL page holds the totals.
WITH pv AS (
    SELECT e.page, e.load_ms, s.visitor
    FROM events e JOIN sessions s ON s.site = e.site AND s.session = e.session
    WHERE e.site = :site AND e.type = 'pageview' AND e.ts >= :from AND e.ts < :to
      AND coalesce(s.device, 'unknown') <> 'bot'
),
agg AS (
    SELECT page, count(*) AS pageviews, count(DISTINCT visitor) AS visitors,
           CASE WHEN count(load_ms) > 0 THEN CAST(sum(load_ms) AS DOUBLE) / count(load_ms) END AS mean_load_ms
    FROM pv GROUP BY page
),
entries AS (
    SELECT s.entry_page AS page, count(*) AS n
    FROM sessions s
    WHERE s.site = :site AND s.first_ts >= :from AND s.first_ts < :to
      AND coalesce(s.device, 'unknown') <> 'bot'
    GROUP BY s.entry_page
),
pages AS (
    SELECT page FROM agg UNION SELECT page FROM entries
)
SELECT p.page, coalesce(a.pageviews, 0) AS pageviews, coalesce(a.visitors, 0) AS visitors,
       coalesce(n.n, 0) AS entries, a.mean_load_ms
FROM pages p LEFT JOIN agg a ON a.page = p.page LEFT JOIN entries n ON n.page = p.page
UNION ALL
SELECT NULL, count(*), count(DISTINCT visitor), NULL, NULL FROM pv
ORDER BY 2 DESC, 1;
