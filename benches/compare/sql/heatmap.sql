-- Click heatmap of :page. Column min(cols-1, x*cols/vw), row y/row_px, in
-- integer arithmetic. vw is the click's own, else that of the session's
-- latest pageview of the page at or before the click (ts, then arrival),
-- else of its earliest; a click with neither is counted as skipped (the
-- row with NULL col and row). Bot sessions are left out.
WITH c AS MATERIALIZED (
    SELECT e.seq, e.session, e.ts, e.x, e.y, e.vw
    FROM events e
    WHERE e.site = :site AND e.page = :page AND e.type = 'click'
      AND e.ts >= :from AND e.ts < :to
      AND e.x IS NOT NULL AND e.y IS NOT NULL
      AND e.session NOT IN (SELECT session FROM sessions WHERE site = :site AND device = 'bot')
),
placed AS MATERIALIZED (
    SELECT x, y, vw FROM c WHERE vw IS NOT NULL
    UNION ALL
    SELECT c.x, c.y, coalesce(
               (SELECT p.vw FROM events p
                WHERE p.site = :site AND p.session = c.session AND p.page = :page AND p.type = 'pageview'
                  AND (p.ts < c.ts OR (p.ts = c.ts AND p.seq <= c.seq))
                ORDER BY p.ts DESC, p.seq DESC LIMIT 1),
               (SELECT p.vw FROM events p
                WHERE p.site = :site AND p.session = c.session AND p.page = :page AND p.type = 'pageview'
                ORDER BY p.ts, p.seq LIMIT 1)) AS vw
    FROM c WHERE c.vw IS NULL
)
SELECT CASE WHEN vw IS NULL THEN NULL
            WHEN x * :cols / vw < :cols - 1 THEN x * :cols / vw
            ELSE :cols - 1 END AS col,
       CASE WHEN vw IS NULL THEN NULL ELSE y / :row_px END AS row_,
       count(*) AS n
FROM placed
GROUP BY 1, 2
ORDER BY 2, 1;
