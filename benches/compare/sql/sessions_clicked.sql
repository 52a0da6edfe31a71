-- The sessions that clicked :selector on :page in range: first pageview in
-- range, not bots, at least one such click in range.
SELECT s.first_ts, s.entry_page, s.referrer_host, s.channel, s.device, s.browser, s.os
FROM sessions s
WHERE s.site = :site AND s.first_ts >= :from AND s.first_ts < :to
  AND coalesce(s.device, 'unknown') <> 'bot'
  AND s.session IN (
      SELECT e.session FROM events e
      WHERE e.site = :site AND e.page = :page AND e.type = 'click' AND e.selector = :selector
        AND e.ts >= :from AND e.ts < :to)
ORDER BY s.first_ts;
