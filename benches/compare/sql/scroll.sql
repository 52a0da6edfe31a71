-- Scroll reach of :page in steps of :step percent. Per session, over its
-- pageviews and scrolls of the page in range: the deepest
-- min(100, (y+vh)*100/dh) over its scrolls (vh, dh from the scroll, else
-- both from the session's latest pageview of the page at or before it,
-- else its earliest; a scroll with neither is left out), else the fold
-- min(100, vh*100/dh) of its first pageview in range. Bots left out.
WITH RECURSIVE
ev AS MATERIALIZED (
    SELECT e.seq, e.session, e.ts, e.type, e.y, e.vh, e.dh
    FROM events e
    WHERE e.site = :site AND e.page = :page AND e.type IN ('pageview', 'scroll')
      AND e.ts >= :from AND e.ts < :to
      AND e.session NOT IN (SELECT session FROM sessions WHERE site = :site AND device = 'bot')
),
-- Scrolls without their own vh and dh: the seq of the pageview they take
-- them from.
fallback AS MATERIALIZED (
    SELECT s.session, s.y, coalesce(
               (SELECT p.seq FROM events p
                WHERE p.site = :site AND p.session = s.session AND p.page = :page AND p.type = 'pageview'
                  AND (p.ts < s.ts OR (p.ts = s.ts AND p.seq <= s.seq))
                ORDER BY p.ts DESC, p.seq DESC LIMIT 1),
               (SELECT p.seq FROM events p
                WHERE p.site = :site AND p.session = s.session AND p.page = :page AND p.type = 'pageview'
                ORDER BY p.ts, p.seq LIMIT 1)) AS pv
    FROM ev s
    WHERE s.type = 'scroll' AND s.y IS NOT NULL AND (s.vh IS NULL OR s.dh IS NULL)
),
geo AS MATERIALIZED (
    SELECT session, y, vh, dh FROM ev
    WHERE type = 'scroll' AND y IS NOT NULL AND vh IS NOT NULL AND dh IS NOT NULL
    UNION ALL
    SELECT f.session, f.y, p.vh, p.dh
    FROM fallback f JOIN events p ON p.seq = f.pv
    WHERE p.site = :site AND p.page = :page AND p.type = 'pageview'
),
deepest AS MATERIALIZED (
    SELECT session,
           max(CASE WHEN (y + vh) * 100 / dh < 100 THEN (y + vh) * 100 / dh ELSE 100 END) AS d
    FROM geo
    WHERE vh IS NOT NULL AND dh IS NOT NULL
    GROUP BY session
),
first_pv AS MATERIALIZED (
    SELECT session, CASE WHEN vh * 100 / dh < 100 THEN vh * 100 / dh ELSE 100 END AS fold FROM (
        SELECT session, vh, dh, ROW_NUMBER() OVER (PARTITION BY session ORDER BY ts, seq) AS rn
        FROM ev
        WHERE type = 'pageview' AND vh IS NOT NULL AND dh IS NOT NULL
    ) t WHERE rn = 1
),
reach AS MATERIALIZED (
    SELECT d AS r FROM deepest
    UNION ALL
    SELECT f.fold FROM first_pv f WHERE f.session NOT IN (SELECT session FROM deepest)
),
steps(depth) AS (
    SELECT 0 UNION ALL SELECT depth + :step FROM steps WHERE depth + :step <= 100
)
SELECT st.depth, count(r.r) AS sessions
FROM steps st LEFT JOIN reach r ON r.r >= st.depth
GROUP BY st.depth
ORDER BY st.depth;
