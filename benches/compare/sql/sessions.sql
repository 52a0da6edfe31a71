-- Both engines: one row per session, derived at load time (heatstore keeps
-- the same table). The visitor is the one named by the session's
-- first-arriving event, else the session id stands for it. The attributes
-- are those of the session's first pageview (earliest ts, then arrival);
-- a session without a pageview has none (first_ts NULL, device NULL: not a
-- bot, never counted by a session report).
CREATE TABLE sessions AS
WITH arrival AS (
    SELECT site, session, coalesce(visitor, session) AS visitor,
           ROW_NUMBER() OVER (PARTITION BY site, session ORDER BY seq) AS rn
    FROM events
),
firstpv AS (
    SELECT site, session, ts, seq, entry_page, referrer_host, referrer_domain, channel,
           utm_source, utm_medium, utm_campaign, utm_term, utm_content,
           device, browser, browser_major, os, os_major, screen, lang, tz,
           ROW_NUMBER() OVER (PARTITION BY site, session ORDER BY ts, seq) AS rn
    FROM events
    WHERE type = 'pageview'
)
SELECT a.site, a.session, a.visitor, p.ts AS first_ts, p.seq AS first_seq,
       p.entry_page, p.referrer_host, p.referrer_domain, p.channel,
       p.utm_source, p.utm_medium, p.utm_campaign, p.utm_term, p.utm_content,
       p.device, p.browser, p.browser_major, p.os, p.os_major, p.screen, p.lang, p.tz
FROM arrival a
LEFT JOIN firstpv p ON p.site = a.site AND p.session = a.session AND p.rn = 1
WHERE a.rn = 1;
