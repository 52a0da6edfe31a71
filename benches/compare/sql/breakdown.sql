-- Sessions (and distinct visitors) per {{KEY}}: the sessions whose first
-- pageview is in range, not bots, with at least one event on :page in
-- range. {{KEY}} is replaced by compare.py with the grouping expression,
-- e.g. coalesce(s.utm_source, '(none)'). The row with a NULL key holds
-- the totals.
WITH ms AS (
    SELECT s.visitor, {{KEY}} AS k
    FROM sessions s
    WHERE s.site = :site AND s.first_ts >= :from AND s.first_ts < :to
      AND coalesce(s.device, 'unknown') <> 'bot'
      AND s.session IN (
          SELECT e.session FROM events e
          WHERE e.site = :site AND e.page = :page AND e.ts >= :from AND e.ts < :to)
)
SELECT k, count(*) AS sessions, count(DISTINCT visitor) AS visitors FROM ms GROUP BY k
UNION ALL
SELECT NULL, count(*), count(DISTINCT visitor) FROM ms
ORDER BY 2 DESC, 1;
