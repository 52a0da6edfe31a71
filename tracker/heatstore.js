/*! heatstore tracker (Event NDJSON v1) | MIT OR Apache-2.0 */
// Readable source: it runs as-is (ES2017, no dependencies, no build step).
// tracker/build.mjs minifies it into dist/heatstore.min.js. See README.md for
// every option and for what is (and is never) recorded.
(function (w, d) {
  'use strict';
  try {
    if (!w || !d || (w.heatstore && w.heatstore.v)) return; // loaded twice: keep the first
  } catch (e) {
    return;
  }

  var VERSION = 1;
  var SESSION_IDLE_MS = 30 * 60 * 1000; // 30 min of inactivity ends a session
  var MAX_QUEUE = 500; // events kept in memory at most
  var FLUSH_EVENTS = 50; // flush as soon as this many are queued...
  var FLUSH_BYTES = 32 * 1024; // ...or this many bytes of JSON
  var MAX_BODY = 60 * 1024; // one request's body at most (beacon quota is 64 KiB; server limit 256 KiB)
  var LOAD_WAIT_MS = 10000; // longest wait for the load event before the first pageview goes without load_ms
  var K_VISITOR = '_hs_v';
  var K_SESSION = '_hs_s';
  var K_OFF = '_hs_off';

  var nav = w.navigator || {};
  var loc = w.location;
  var noop = function () {};

  // Every handler goes through safe(): the tracker never throws into the page.
  function safe(fn) {
    return function () {
      try {
        return fn.apply(this, arguments);
      } catch (e) {
        return undefined;
      }
    };
  }

  // ---- configuration from the script tag ------------------------------
  var script = d.currentScript;
  if (!script || !script.getAttribute('data-site')) {
    try {
      script = d.querySelector('script[data-site][src*="heatstore"]') || d.querySelector('script[data-site]');
    } catch (e) {
      script = null;
    }
  }
  function attr(name, dflt) {
    var v = script && script.getAttribute('data-' + name);
    return v === null || v === undefined || v === '' ? dflt : v;
  }
  function num(name, dflt) {
    var v = parseInt(attr(name, ''), 10);
    return isFinite(v) && v >= 0 ? v : dflt;
  }
  var site = attr('site', '');
  var endpoint = attr('endpoint', '');
  try {
    if (!endpoint && script && script.src) endpoint = new URL('/collect', script.src).href;
    endpoint = new URL(endpoint, loc.href).href;
  } catch (e) {
    endpoint = '';
  }
  var server = endpoint ? new URL(endpoint).origin : '';
  var cookieless = attr('cookieless', 'false') === 'true';
  var respectDnt = attr('respect-dnt', 'true') !== 'false';
  var spa = attr('spa', 'true') !== 'false';
  var moveEvery = num('move-interval', 100); // 0 = record no moves
  var scrollEvery = num('scroll-interval', 250);
  var flushEvery = num('flush-interval', 5000) || 5000;

  // ---- storage: localStorage, else a first-party cookie ------------------
  function sget(k) {
    try {
      var v = w.localStorage.getItem(k);
      if (v !== null) return v;
    } catch (e) {}
    try {
      var m = d.cookie.match(new RegExp('(?:^|; )' + k + '=([^;]*)'));
      return m ? decodeURIComponent(m[1]) : null;
    } catch (e) {
      return null;
    }
  }
  function sset(k, v, days) {
    try {
      w.localStorage.setItem(k, v);
      return;
    } catch (e) {}
    try {
      d.cookie = k + '=' + encodeURIComponent(v) + '; path=/; max-age=' + Math.round(days * 86400) +
        '; SameSite=Lax' + (loc.protocol === 'https:' ? '; Secure' : '');
    } catch (e) {}
  }
  function sdel(k) {
    try {
      w.localStorage.removeItem(k);
    } catch (e) {}
    try {
      if (d.cookie.indexOf(k + '=') >= 0) d.cookie = k + '=; path=/; max-age=0';
    } catch (e) {}
  }

  // 16 random bytes as base64url (22 characters).
  function rid() {
    var b = new Uint8Array(16);
    w.crypto.getRandomValues(b);
    var s = '';
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // ---- privacy switches ---------------------------------------------------
  var dnt = nav.doNotTrack === '1' || nav.doNotTrack === 'yes' || w.doNotTrack === '1' || nav.msDoNotTrack === '1';
  var gpc = nav.globalPrivacyControl === true;
  var overlayMatch = /(?:^#|&)heatstore-overlay=([A-Za-z0-9_-]+)/.exec(loc.hash || '');

  // ---- ids ----------------------------------------------------------------
  var visitor = null;
  var sess = null; // {id, last}
  var sessWritten = 0;
  function visitorId() {
    if (cookieless) return null;
    if (!visitor) {
      visitor = sget(K_VISITOR);
      if (!visitor || visitor.length > 128) {
        visitor = rid();
        sset(K_VISITOR, visitor, 365);
      }
    }
    return visitor;
  }
  // Returns the session id for an event at `now`; rolled is set when a new
  // session had to start (none stored, or 30 minutes without activity). Other
  // tabs of the site share the stored session: an idle-looking one is re-read
  // from storage before it is replaced.
  var rolled = false;
  function readSession() {
    var raw = sget(K_SESSION);
    var m = raw && /^([A-Za-z0-9_-]{1,64})\.(\d+)$/.exec(raw);
    return m ? { id: m[1], last: +m[2] } : null;
  }
  function sessionId(now) {
    if (cookieless) return null;
    if (!sess || now - sess.last > SESSION_IDLE_MS) {
      var stored = readSession();
      if (stored && now - stored.last <= SESSION_IDLE_MS) {
        sess = stored;
      } else {
        sess = { id: rid(), last: now };
        sessWritten = 0;
        rolled = true;
      }
    }
    if (now > sess.last) sess.last = now;
    if (now - sessWritten >= 1000) {
      sessWritten = now;
      sset(K_SESSION, sess.id + '.' + sess.last, 1);
    }
    return sess.id;
  }

  // ---- page geometry ----------------------------------------------------
  function px(v) {
    v = Math.round(+v || 0);
    return v < 0 ? 0 : v > 1000000 ? 1000000 : v;
  }
  function vw() {
    return px(w.innerWidth || d.documentElement.clientWidth) || 1;
  }
  function vh() {
    return px(w.innerHeight || d.documentElement.clientHeight);
  }
  function dh() {
    var b = d.body || {};
    var e = d.documentElement || {};
    return px(Math.max(b.scrollHeight || 0, b.offsetHeight || 0, e.scrollHeight || 0, e.offsetHeight || 0, e.clientHeight || 0)) || 1;
  }
  function scrollTop() {
    return px(w.pageYOffset !== undefined ? w.pageYOffset : (d.documentElement || {}).scrollTop);
  }
  // The page as sent: origin + path + only the utm_* query parameters. Other
  // query parameters and the fragment never leave the browser (they often
  // hold tokens or personal data, and the store keeps only path and utm_*).
  function cleanUrl(href, keepUtm) {
    try {
      var u = new URL(href, loc.href);
      var out = u.origin + u.pathname;
      if (keepUtm && u.search) {
        var q = [];
        u.searchParams.forEach(function (v, k) {
          if (/^utm_/i.test(k)) q.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
        });
        if (q.length) out += '?' + q.join('&');
      }
      return out.slice(0, 4096);
    } catch (e) {
      return '';
    }
  }
  function pageUrl() {
    return cleanUrl(loc.href, true) || '/';
  }
  function loadMs() {
    try {
      var p = w.performance;
      var n = p.getEntriesByType && p.getEntriesByType('navigation')[0];
      if (n) {
        var t = n.loadEventEnd > 0 ? n.loadEventEnd : n.domContentLoadedEventEnd;
        return t > 0 ? px(t) : null;
      }
      var tm = p.timing;
      if (tm && tm.navigationStart) {
        var end = tm.loadEventEnd || tm.domContentLoadedEventEnd;
        return end > 0 ? px(end - tm.navigationStart) : null;
      }
    } catch (e) {}
    return null;
  }

  // ---- the stable selector ----------------------------------------------
  var STABLE_ATTRS = ['data-heatstore-id', 'data-testid', 'data-test-id', 'data-test', 'data-qa', 'data-cy', 'name', 'aria-label'];
  function esc(s) {
    if (w.CSS && CSS.escape) return CSS.escape(s);
    return String(s).replace(/^(-?)(\d)/, function (_, a, b) {
      return a + '\\3' + b + ' ';
    }).replace(/[^\w\u00a0-\uffff-]/g, '\\$&');
  }
  function tagOf(el) {
    return (el.localName || el.nodeName || '*').toLowerCase();
  }
  // `#id` when the element has an id; else `tag[attr="v"]` for the first
  // stable attribute whose selector is unique in the document; else a path of
  // `tag` / `tag:nth-of-type(k)` steps (child combinators) up to the nearest
  // ancestor that has an id or a unique stable attribute (or up to `body`).
  function anchorOf(el) {
    var id = el.getAttribute && el.getAttribute('id');
    if (id) return '#' + esc(id);
    for (var i = 0; i < STABLE_ATTRS.length; i++) {
      var v = el.getAttribute(STABLE_ATTRS[i]);
      if (v && v.length <= 64) {
        var s = tagOf(el) + '[' + STABLE_ATTRS[i] + '="' + esc(v) + '"]';
        try {
          if (d.querySelectorAll(s).length === 1) return s;
        } catch (e) {}
      }
    }
    return null;
  }
  function selectorOf(el) {
    var parts = [];
    for (var n = el; n && n.nodeType === 1; n = n.parentElement) {
      var a = anchorOf(n);
      if (a) {
        parts.unshift(a);
        break;
      }
      var tag = tagOf(n);
      if (tag === 'html' || tag === 'body') {
        parts.unshift(tag);
        break;
      }
      var p = n.parentElement;
      var same = 0;
      var idx = 0;
      if (p) {
        for (var c = p.firstElementChild; c; c = c.nextElementSibling) {
          if (tagOf(c) === tag) {
            same++;
            if (c === n) idx = same;
          }
        }
      }
      parts.unshift(same > 1 ? tag + ':nth-of-type(' + idx + ')' : tag);
    }
    var sel = parts.join(' > ');
    return sel.length <= 1024 ? sel : null;
  }
  // The element a click is about: the nearest interactive ancestor-or-self
  // (link, button, form control, label, summary, role=button/link/tab/...),
  // else the element under the pointer.
  var INTERACTIVE = 'a[href],button,input,select,textarea,label,summary,[role=button],[role=link],[role=tab],[role=menuitem],[role=checkbox],[role=option]';
  function targetOf(t) {
    if (t && t.nodeType !== 1) t = t.parentElement;
    if (!t || !t.closest) return null;
    return t.closest(INTERACTIVE) || t;
  }

  // ---- sensitive fields -------------------------------------------------
  var SENSITIVE_TYPES = /^(password|email|tel|hidden)$/i;
  var SENSITIVE_AC = /^(cc-.*|current-password|new-password|one-time-code|name|honorific-prefix|given-name|additional-name|family-name|honorific-suffix|nickname|username|email|tel(-.*)?|street-address|address-line[123]|address-level[1-4]|postal-code|country|country-name|bday(-.*)?|sex|impp|photo|organization|organization-title|transaction-.*|webauthn)$/i;
  function sensitiveZone(el) {
    return !!(el && el.closest && el.closest('[data-heatstore-sensitive]'));
  }
  function sensitiveField(el) {
    if (!el || el.nodeType !== 1) return false;
    if (sensitiveZone(el)) return true;
    var tag = tagOf(el);
    if (tag === 'input' && SENSITIVE_TYPES.test(el.getAttribute('type') || '')) return true;
    if (tag === 'input' || tag === 'textarea' || tag === 'select') {
      var ac = (el.getAttribute('autocomplete') || '').split(/\s+/);
      for (var i = 0; i < ac.length; i++) if (SENSITIVE_AC.test(ac[i])) return true;
    }
    return false;
  }
  var TEXT_INPUT = /^(text|search|url|number|)$/i;
  function textLike(el) {
    var tag = tagOf(el);
    if (tag === 'textarea') return true;
    if (tag === 'input') return TEXT_INPUT.test(el.getAttribute('type') || '');
    return !!el.isContentEditable;
  }

  // ---- queue and transport ----------------------------------------------
  var queue = []; // [{t: type, s: JSON text}]
  var queueBytes = 0;
  var on = false; // recording

  function post(body) {
    try {
      if (nav.sendBeacon && nav.sendBeacon(endpoint, body)) return;
    } catch (e) {}
    try {
      if (w.fetch) {
        w.fetch(endpoint, {
          method: 'POST',
          body: body,
          headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
          mode: 'no-cors',
          credentials: 'omit',
          keepalive: true
        }).catch(noop);
      }
    } catch (e) {}
  }
  var head = '';
  var flushing = false;
  function flush() {
    if (flushing) return;
    flushing = true;
    try {
      flushInputs();
    } finally {
      flushing = false;
    }
    if (!endpoint) queue = [];
    while (queue.length) {
      var parts = [];
      var size = head.length + 2;
      while (queue.length && (parts.length === 0 || size + queue[0].s.length + 1 <= MAX_BODY)) {
        var item = queue.shift();
        queueBytes -= item.s.length;
        if (item.s.length + head.length + 2 > MAX_BODY) continue; // cannot happen with the field limits; never send one
        parts.push(item.s);
        size += item.s.length + 1;
      }
      if (parts.length) post(head + parts.join(',') + ']}');
    }
    queueBytes = 0;
  }
  function enqueue(ev) {
    var s = JSON.stringify(ev);
    if (queue.length >= MAX_QUEUE) {
      // Full: drop the oldest move, else the oldest scroll, else the oldest event.
      var drop = 0;
      for (var pass = 0; pass < 2; pass++) {
        var want = pass ? 'scroll' : 'move';
        for (var i = 0; i < queue.length; i++) {
          if (queue[i].t === want) {
            drop = i;
            pass = 2;
            break;
          }
        }
      }
      queueBytes -= queue[drop].s.length;
      queue.splice(drop, 1);
    }
    queue.push({ t: ev.type, s: s });
    queueBytes += s.length;
    if ((queue.length >= FLUSH_EVENTS || queueBytes >= FLUSH_BYTES) && !flushing) flush();
  }

  // Builds an event with the common fields and queues it.
  function record(type, fields, ts) {
    if (!on) return;
    var now = ts || Date.now();
    rolled = false;
    var sid = sessionId(now);
    if (rolled && page && type !== 'pageview') {
      // The session timed out while the page stayed open: the new session
      // starts with a pageview of the page it is on.
      pageview(now, null, null);
    }
    var ev = { ts: now, type: type };
    if (sid) ev.session = sid;
    var vid = visitorId();
    if (vid) ev.visitor = vid;
    ev.url = page ? page.url : pageUrl();
    for (var k in fields) if (fields[k] !== null && fields[k] !== undefined) ev[k] = fields[k];
    if (dnt) ev.dnt = true; // only reached with data-respect-dnt="false"
    enqueue(ev);
  }

  // ---- pages --------------------------------------------------------------
  var page = null; // {url, path, start}
  var pendingPv = null; // first pageview, waiting for the load event
  function pageview(ts, referrer, load) {
    var f = {
      referrer: referrer ? referrer.slice(0, 4096) : null,
      lang: (nav.language || '').slice(0, 64) || null,
      tz: null,
      screen_w: w.screen ? px(w.screen.width) : null,
      screen_h: w.screen ? px(w.screen.height) : null,
      vw: vw(),
      vh: vh(),
      dh: dh(),
      load_ms: load
    };
    try {
      f.tz = (Intl.DateTimeFormat().resolvedOptions().timeZone || '').slice(0, 64) || null;
    } catch (e) {}
    record('pageview', f, ts);
  }
  function startPage(ts) {
    page = { url: pageUrl(), path: loc.pathname, start: ts };
  }
  function commitPending() {
    if (!pendingPv) return;
    var p = pendingPv;
    pendingPv = null;
    clearTimeout(p.timer);
    pageview(p.ts, p.referrer, loadMs());
  }
  function leave(now) {
    commitPending();
    if (page && !page.left) {
      page.left = true;
      record('leave', { duration_ms: Math.max(0, now - page.start) }, now);
    }
  }
  // SPA navigation: the path changed without a document load.
  function onRoute() {
    if (!on || !page || loc.pathname === page.path) return;
    var now = Date.now();
    var prev = page.url;
    leave(now);
    startPage(now);
    // Measure the new view after the app had a chance to render it.
    var url = page.url;
    setTimeout(safe(function () {
      if (on && page && page.url === url) pageview(now, cleanUrl(prev, false), null);
    }), 0);
  }

  // ---- input handlers -------------------------------------------------------
  var moveAt = null; // latest pointer position not yet sampled
  var moveTimer = 0;
  var lastMove = null;
  function onMove(e) {
    if (!on || !moveEvery) return;
    moveAt = { x: e.pageX, y: e.pageY, t: e.target };
    if (!moveTimer) moveTimer = setTimeout(safe(sampleMove), moveEvery);
  }
  function sampleMove() {
    moveTimer = 0;
    var m = moveAt;
    moveAt = null;
    if (!m || !on) return;
    var x = px(m.x);
    var y = px(m.y);
    if (lastMove && lastMove.x === x && lastMove.y === y) return; // the pointer did not move
    if (sensitiveZone(m.t && m.t.nodeType === 1 ? m.t : m.t && m.t.parentElement)) return;
    lastMove = { x: x, y: y };
    record('move', { x: x, y: y, vw: vw() });
  }

  var scrollTimer = 0;
  var lastScroll = -1;
  function onScroll() {
    if (!on || scrollTimer) return;
    scrollTimer = setTimeout(safe(function () {
      scrollTimer = 0;
      var y = scrollTop();
      if (!on || y === lastScroll) return;
      lastScroll = y;
      record('scroll', { y: y, vw: vw(), vh: vh(), dh: dh() });
    }), scrollEvery);
  }

  function onClick(e) {
    if (!on) return;
    // Keyboard-activated clicks have no pointer position: not a heatmap point.
    if (e.detail === 0 && e.clientX === 0 && e.clientY === 0) return;
    var el = targetOf(e.target);
    // Inside a sensitive zone, or on a sensitive field: nothing at all.
    if (!el || sensitiveField(el) || sensitiveZone(e.target.nodeType === 1 ? e.target : el)) return;
    var f = { x: px(e.pageX), y: px(e.pageY), vw: vw(), selector: selectorOf(el) };
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) {
      f.ex = Math.min(10000, px(((e.clientX - r.left) / r.width) * 10000));
      f.ey = Math.min(10000, px(((e.clientY - r.top) / r.height) * 10000));
    }
    record('click', f);
  }

  // Input events carry only the value's length, debounced per field (one
  // event once typing pauses for 300 ms, and before every flush).
  var pendingInputs = [];
  var inputTimer = 0;
  function onInput(e) {
    if (!on) return;
    var el = e.target;
    if (!el || el.nodeType !== 1 || !textLike(el) || sensitiveField(el)) return;
    if (pendingInputs.indexOf(el) < 0) pendingInputs.push(el);
    clearTimeout(inputTimer);
    inputTimer = setTimeout(safe(flushInputs), 300);
  }
  function flushInputs() {
    var els = pendingInputs;
    pendingInputs = [];
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (!on || sensitiveField(el)) continue; // re-checked: attributes may have changed
      var len = el.isContentEditable && tagOf(el) !== 'input' && tagOf(el) !== 'textarea' ? (el.textContent || '').length : (el.value || '').length;
      record('input', { len: len, selector: selectorOf(el) });
    }
  }

  function onHide(e) {
    if (!on) return;
    if (e.type === 'pagehide') leave(Date.now());
    else commitPending(); // hidden before the load: the pageview goes now
    flush();
  }
  function onShow(e) {
    // Restored from the back/forward cache: a new view of the page.
    if (!on || !e.persisted) return;
    var now = Date.now();
    startPage(now);
    pageview(now, null, null);
  }

  // ---- lifecycle ------------------------------------------------------------
  var listening = false;
  var flushTimer = 0;
  function listen() {
    if (listening) return;
    listening = true;
    var opt = { capture: true, passive: true };
    d.addEventListener('click', safe(onClick), opt);
    d.addEventListener('mousemove', safe(onMove), opt);
    d.addEventListener('input', safe(onInput), opt);
    w.addEventListener('scroll', safe(onScroll), { passive: true });
    w.addEventListener('pagehide', safe(onHide));
    w.addEventListener('pageshow', safe(onShow));
    d.addEventListener('visibilitychange', safe(function (e) {
      if (d.visibilityState === 'hidden') onHide(e);
    }));
    if (spa) {
      var h = w.history;
      ['pushState', 'replaceState'].forEach(function (m) {
        var orig = h && h[m];
        if (typeof orig !== 'function') return;
        h[m] = function () {
          var r = orig.apply(this, arguments);
          safe(onRoute)();
          return r;
        };
      });
      w.addEventListener('popstate', safe(onRoute));
      w.addEventListener('hashchange', safe(onRoute));
    }
  }
  function start() {
    if (on || !endpoint || !site || !w.crypto || !w.crypto.getRandomValues) return;
    on = true;
    head = '{"site":' + JSON.stringify(site) + ',"events":[';
    var now = Date.now();
    // The session is chosen now, so that only a later 30-minute timeout
    // (not the first event of the page) starts a session with a new pageview.
    sessionId(now);
    visitorId();
    rolled = false;
    startPage(now);
    var ref = d.referrer ? cleanUrl(d.referrer, false) : null;
    pendingPv = { ts: now, referrer: ref, timer: 0 };
    // The first pageview waits for the load event so that it carries load_ms
    // (its ts stays the time the tracker ran); at most LOAD_WAIT_MS, and a
    // page hidden or navigated before then sends it at once without load_ms.
    if (d.readyState === 'complete') {
      setTimeout(safe(commitPending), 0);
    } else {
      w.addEventListener('load', safe(function () {
        setTimeout(safe(commitPending), 0);
      }));
      pendingPv.timer = setTimeout(safe(commitPending), LOAD_WAIT_MS);
    }
    listen();
    flushTimer = setInterval(safe(function () {
      if (queue.length) flush();
    }), flushEvery);
  }
  function stop() {
    on = false;
    pendingPv = null;
    queue = [];
    queueBytes = 0;
    pendingInputs = [];
    clearInterval(flushTimer);
  }

  // ---- public API -----------------------------------------------------------
  var api = {
    v: VERSION,
    // Custom event: heatstore.track('signup').
    track: safe(function (name) {
      if (name === null || name === undefined || name === '') return;
      record('custom', { name: String(name).slice(0, 256) });
    }),
    // Stops at once, remembers it, and tells the server (which drops future
    // events of this visitor and queues deletion of the past ones).
    optOut: safe(function () {
      var vid = cookieless ? null : sget(K_VISITOR) || visitor;
      stop();
      sset(K_OFF, '1', 3650);
      sdel(K_SESSION);
      sdel(K_VISITOR);
      visitor = null;
      sess = null;
      if (server && site) {
        var body = { site: site };
        if (vid) body.visitor = vid;
        var url = server + '/api/opt-out';
        var text = JSON.stringify(body);
        try {
          if (nav.sendBeacon && nav.sendBeacon(url, text)) return;
        } catch (e) {}
        if (w.fetch) {
          w.fetch(url, { method: 'POST', body: text, headers: { 'Content-Type': 'text/plain;charset=UTF-8' }, mode: 'no-cors', credentials: 'omit', keepalive: true }).catch(noop);
        }
      }
    }),
    // Undoes optOut(); recording starts again (with new ids) unless
    // Do-Not-Track or Global Privacy Control says no.
    optIn: safe(function () {
      sdel(K_OFF);
      if (!blocked()) start();
    }),
    optedOut: safe(function () {
      return sget(K_OFF) === '1';
    }),
    // True while events are being recorded.
    recording: function () {
      return on;
    },
    flush: safe(flush),
    // The selector the tracker would send for a click on `el` (the overlay's
    // element picker uses it, so both follow the same rule).
    selectorOf: safe(function (el) {
      var t = targetOf(el);
      return t ? selectorOf(t) : null;
    })
  };
  function blocked() {
    return gpc || (respectDnt && dnt) || sget(K_OFF) === '1' || !!overlayMatch;
  }

  safe(function () {
    var pre = w.heatstore; // calls queued before the script loaded: heatstore = [['track','x'], ...]
    w.heatstore = api;
    if (overlayMatch) {
      // Overlay mode: record nothing, draw the reports over this page instead.
      var cfg = null;
      try {
        var b64 = overlayMatch[1].replace(/-/g, '+').replace(/_/g, '/');
        var bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
        var bytes = new Uint8Array(bin.length);
        for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        cfg = JSON.parse(new TextDecoder().decode(bytes));
      } catch (e) {}
      if (cfg && server) {
        // The token must not linger in the address bar for other scripts.
        try {
          w.history.replaceState(w.history.state, '', loc.pathname + loc.search);
        } catch (e) {}
        // Scripts and API calls go to the configured endpoint's server only,
        // never to one named in the fragment.
        w.__heatstoreOverlay = { config: cfg, server: server, site: site };
        var s = d.createElement('script');
        s.src = server + '/heatstore-overlay.js';
        s.async = true;
        (d.head || d.documentElement).appendChild(s);
      }
      return;
    }
    if (!blocked()) start();
    if (pre && pre.length) {
      for (var j = 0; j < pre.length; j++) {
        var c = pre[j];
        if (c && typeof api[c[0]] === 'function') api[c[0]].apply(api, [].slice.call(c, 1));
      }
    }
  })();
})(typeof window !== 'undefined' ? window : null, typeof document !== 'undefined' ? document : null);
