-- Per :bucket_ms bucket (UTC days) of [from, to), every bucket present:
-- pageviews of :page, distinct visitors with such a pageview, and sessions
-- whose first pageview is in the bucket with at least one event on :page
-- in range. Bots left out.
WITH RECURSIVE
buckets(b) AS (
    SELECT (:from / :bucket_ms) * :bucket_ms
    UNION ALL
    SELECT b + :bucket_ms FROM buckets WHERE b + :bucket_ms <= ((:to - 1) / :bucket_ms) * :bucket_ms
),
pv AS (
    SELECT (e.ts / :bucket_ms) * :bucket_ms AS b, count(*) AS n, count(DISTINCT s.visitor) AS v
    FROM events e JOIN sessions s ON s.site = e.site AND s.session = e.session
    WHERE e.site = :site AND e.page = :page AND e.type = 'pageview'
      AND e.ts >= :from AND e.ts < :to
      AND coalesce(s.device, 'unknown') <> 'bot'
    GROUP BY 1
),
ss AS (
    SELECT (s.first_ts / :bucket_ms) * :bucket_ms AS b, count(*) AS n
    FROM sessions s
    WHERE s.site = :site AND s.first_ts >= :from AND s.first_ts < :to
      AND coalesce(s.device, 'unknown') <> 'bot'
      AND s.session IN (
          SELECT e.session FROM events e
          WHERE e.site = :site AND e.page = :page AND e.ts >= :from AND e.ts < :to)
    GROUP BY 1
)
SELECT k.b AS ts, coalesce(pv.n, 0) AS pageviews, coalesce(ss.n, 0) AS sessions, coalesce(pv.v, 0) AS visitors
FROM buckets k LEFT JOIN pv ON pv.b = k.b LEFT JOIN ss ON ss.b = k.b
ORDER BY k.b;
