-- Clicks per selector on :page, with the mean in-element position over the
-- clicks that gave one. Bot sessions are left out.
SELECT e.selector,
       count(*) AS clicks,
       CASE WHEN count(e.ex) > 0 THEN CAST(sum(e.ex) AS DOUBLE) / count(e.ex) END AS mean_ex,
       CASE WHEN count(e.ey) > 0 THEN CAST(sum(e.ey) AS DOUBLE) / count(e.ey) END AS mean_ey
FROM events e
WHERE e.site = :site AND e.page = :page AND e.type = 'click'
  AND e.ts >= :from AND e.ts < :to
  AND e.selector IS NOT NULL
  AND e.session NOT IN (SELECT session FROM sessions WHERE site = :site AND device = 'bot')
GROUP BY e.selector
ORDER BY clicks DESC, e.selector;
