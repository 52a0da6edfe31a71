// heatstore dashboard: plain JS, no build step, no dependencies.
// Every API call sends `Authorization: Bearer TOKEN` (the token is kept in
// sessionStorage only). Data from the API is only ever put in the page as text
// (textContent / SVG text), never as HTML.
(function () {
  'use strict';

  var $ = function (id) {
    return document.getElementById(id);
  };
  var TOKEN_KEY = 'heatstore-token';
  var token = sessionStorage.getItem(TOKEN_KEY) || '';
  var sitesDetail = []; // [{site, origins: [...]}]
  var activeTab = 'overview';
  var width = { w: 1280, h: 800 };

  // ---- small helpers -------------------------------------------------------
  function h(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'class') e.className = attrs[k];
        else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
        else if (attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== false) e.setAttribute(k, attrs[k]);
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }
  function setStatus(msg, isError) {
    var s = $('status');
    s.textContent = msg || '';
    s.className = 'status' + (isError ? ' error' : '');
  }
  function fmtNum(v) {
    if (v === null || v === undefined) return '\u2013';
    if (typeof v === 'number' && !Number.isInteger(v)) return v.toFixed(1);
    return Number(v).toLocaleString('en-US');
  }
  function fmtTime(ms) {
    if (ms === null || ms === undefined) return '\u2013';
    var d = new Date(ms);
    return isNaN(d) ? String(ms) : d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  }
  function b64url(str) {
    var bytes = new TextEncoder().encode(str);
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // ---- API -------------------------------------------------------------------
  function api(route, params, opts) {
    var q = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    });
    var qs = q.toString();
    var init = { headers: { Authorization: 'Bearer ' + token }, credentials: 'same-origin' };
    if (opts && opts.body !== undefined) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    return fetch('/api/' + route + (qs ? '?' + qs : ''), init).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try {
          j = t ? JSON.parse(t) : null;
        } catch (e) {}
        if (!r.ok) {
          var msg = (j && j.error) || 'HTTP ' + r.status;
          if (r.status === 401) msg = 'the token was refused (' + msg + ')';
          var err = new Error('/api/' + route + ': ' + msg);
          err.status = r.status;
          throw err;
        }
        return j;
      });
    });
  }
  function fail(e) {
    setStatus(String(e.message || e), true);
  }

  // ---- scope and filters --------------------------------------------------------
  function site() {
    var t = $('site-text');
    return (t.hidden ? $('site').value : t.value).trim();
  }
  function timeOf(id) {
    var v = $(id).value;
    if (!v) return undefined;
    var ms = new Date(v).getTime();
    return isNaN(ms) ? undefined : ms;
  }
  function scope(extra) {
    var p = {
      site: site(),
      from: timeOf('from'),
      to: timeOf('to'),
      device: $('device').value,
      browser: $('browser').value.trim(),
      os: $('os').value.trim(),
      referrer: $('referrer').value.trim(),
      channel: $('channel').value,
      include_bots: $('include_bots').checked ? 'true' : undefined
    };
    Object.keys(extra || {}).forEach(function (k) {
      p[k] = extra[k];
    });
    return p;
  }
  function page() {
    return $('page').value.trim() || '/';
  }
  function originsOf(s) {
    for (var i = 0; i < sitesDetail.length; i++) if (sitesDetail[i].site === s) return sitesDetail[i].origins || [];
    return [];
  }
  function pageOrigin() {
    var t = $('origin-text');
    var v = (t.hidden ? $('origin').value : t.value).trim().replace(/\/+$/, '');
    return v;
  }

  // ---- tables and charts ------------------------------------------------------------
  // columns: [{label, key, num, fmt(v,row), node(row)}]
  function table(target, columns, rows, emptyText) {
    clear(target);
    if (!rows || !rows.length) {
      target.appendChild(h('p', { class: 'empty', text: emptyText || 'No data for this scope.' }));
      return;
    }
    var head = h('tr');
    columns.forEach(function (c) {
      head.appendChild(h('th', { class: c.num ? 'num' : null, text: c.label }));
    });
    var body = h('tbody');
    rows.forEach(function (r) {
      var tr = h('tr');
      columns.forEach(function (c) {
        var td = h('td', { class: c.num ? 'num' : null });
        if (c.node) {
          var n = c.node(r);
          if (n) td.appendChild(n);
        } else {
          var v = r[c.key];
          td.textContent = c.fmt ? c.fmt(v, r) : c.num ? fmtNum(v) : v === null || v === undefined ? '\u2013' : String(v);
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    target.appendChild(h('table', null, h('thead', null, head), body));
  }
  var SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      e.setAttribute(k, attrs[k]);
    });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // Horizontal bars of rows[valueKey] labelled by rows[labelKey].
  function barChart(target, rows, labelKey, valueKey) {
    clear(target);
    rows = (rows || []).slice(0, 12);
    if (!rows.length) return;
    var max = Math.max.apply(null, rows.map(function (r) {
      return r[valueKey] || 0;
    })) || 1;
    var W = 800;
    var rowH = 22;
    var labelW = 220;
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + (rows.length * rowH + 10), role: 'img', 'aria-label': valueKey + ' per ' + labelKey });
    rows.forEach(function (r, i) {
      var y = 5 + i * rowH;
      var bw = ((W - labelW - 80) * (r[valueKey] || 0)) / max;
      var label = String(r[labelKey]);
      svg.appendChild(s('text', { x: labelW - 6, y: y + 15, 'text-anchor': 'end', 'font-size': 12, fill: '#333' }, label.length > 32 ? label.slice(0, 31) + '\u2026' : label));
      svg.appendChild(s('rect', { x: labelW, y: y + 3, width: Math.max(1, bw), height: rowH - 6, fill: '#2d5bd7', rx: 2 }));
      svg.appendChild(s('text', { x: labelW + bw + 6, y: y + 15, 'font-size': 12, fill: '#333' }, fmtNum(r[valueKey])));
    });
    target.appendChild(svg);
  }
  // Lines of pageviews, sessions and visitors over time.
  function seriesChart(target, rows) {
    clear(target);
    if (!rows || !rows.length) {
      target.appendChild(h('p', { class: 'empty', text: 'No data for this scope.' }));
      return;
    }
    var W = 800;
    var H = 220;
    var L = 50;
    var B = 30;
    var T = 10;
    var R = 10;
    var keys = [['pageviews', '#2d5bd7'], ['sessions', '#e0671b'], ['visitors', '#1f9d55']];
    var max = 1;
    rows.forEach(function (r) {
      keys.forEach(function (k) {
        if ((r[k[0]] || 0) > max) max = r[k[0]];
      });
    });
    var t0 = rows[0].ts;
    var t1 = rows[rows.length - 1].ts;
    var xOf = function (ts) {
      return t1 === t0 ? L + (W - L - R) / 2 : L + ((ts - t0) / (t1 - t0)) * (W - L - R);
    };
    var yOf = function (v) {
      return T + (H - T - B) * (1 - v / max);
    };
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'pageviews, sessions and visitors over time' });
    svg.appendChild(s('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#999' }));
    svg.appendChild(s('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#999' }));
    svg.appendChild(s('text', { x: L - 6, y: T + 10, 'text-anchor': 'end', 'font-size': 11, fill: '#555' }, fmtNum(max)));
    svg.appendChild(s('text', { x: L - 6, y: H - B, 'text-anchor': 'end', 'font-size': 11, fill: '#555' }, '0'));
    svg.appendChild(s('text', { x: L, y: H - 8, 'font-size': 11, fill: '#555' }, fmtTime(t0)));
    svg.appendChild(s('text', { x: W - R, y: H - 8, 'text-anchor': 'end', 'font-size': 11, fill: '#555' }, fmtTime(t1)));
    keys.forEach(function (k, ki) {
      var d = rows.map(function (r, i) {
        return (i ? 'L' : 'M') + xOf(r.ts).toFixed(1) + ' ' + yOf(r[k[0]] || 0).toFixed(1);
      }).join(' ');
      svg.appendChild(s('path', { d: d, fill: 'none', stroke: k[1], 'stroke-width': 2 }));
      if (rows.length === 1) svg.appendChild(s('circle', { cx: xOf(t0), cy: yOf(rows[0][k[0]] || 0), r: 3, fill: k[1] }));
      svg.appendChild(s('rect', { x: L + 10 + ki * 110, y: T, width: 10, height: 10, fill: k[1] }));
      svg.appendChild(s('text', { x: L + 24 + ki * 110, y: T + 9, 'font-size': 11, fill: '#333' }, k[0]));
    });
    target.appendChild(svg);
  }

  // ---- tabs ------------------------------------------------------------------------
  var renderers = {
    overview: function () {
      var interval = $('interval').value;
      return Promise.all([
        api('series', scope({ interval: interval, page: undefined })).then(function (d) {
          seriesChart($('series-chart'), d.rows);
          var sum = { pageviews: 0, sessions: 0 };
          (d.rows || []).forEach(function (r) {
            sum.pageviews += r.pageviews || 0;
            sum.sessions += r.sessions || 0;
          });
          $('series-totals').textContent = (d.rows || []).length + ' ' + (d.interval || interval) + 's \u00b7 ' + fmtNum(sum.pageviews) + ' pageviews \u00b7 ' + fmtNum(sum.sessions) + ' sessions';
        }),
        api('pages', scope()).then(function (d) {
          var list = clear($('page-list'));
          (d.rows || []).forEach(function (r) {
            list.appendChild(h('option', { value: r.page }));
          });
          table($('pages-table'), [
            { label: 'Page', node: function (r) {
              return h('button', { type: 'button', title: 'Use this page', text: r.page, onclick: function () {
                $('page').value = r.page;
                showTab('heatmap');
              } });
            } },
            { label: 'Pageviews', key: 'pageviews', num: true },
            { label: 'Visitors', key: 'visitors', num: true },
            { label: 'Entries', key: 'entries', num: true },
            { label: 'Mean load (ms)', key: 'mean_load_ms', num: true, fmt: function (v) {
              return v === null || v === undefined ? '\u2013' : Math.round(v).toLocaleString('en-US');
            } }
          ], d.rows);
          if (d.rows && d.rows.length) $('pages-table').appendChild(h('p', { class: 'muted', text: fmtNum(d.pageviews) + ' pageviews, ' + fmtNum(d.visitors) + ' visitors in all' }));
        })
      ]);
    },
    heatmap: function () {
      fillOrigins();
      return api('elements', scope({ page: page(), limit: 50 })).then(function (d) {
        table($('elements-table'), [
          { label: 'Element', key: 'selector', fmt: function (v) {
            return v;
          } },
          { label: 'Clicks', key: 'clicks', num: true },
          { label: 'Mean x in element', key: 'mean_ex', num: true, fmt: function (v) {
            return v === null || v === undefined ? '\u2013' : (v / 100).toFixed(0) + ' %';
          } },
          { label: 'Mean y in element', key: 'mean_ey', num: true, fmt: function (v) {
            return v === null || v === undefined ? '\u2013' : (v / 100).toFixed(0) + ' %';
          } },
          { label: '', node: function (r) {
            return h('button', { type: 'button', text: 'sessions', onclick: function () {
              sessionsFor(r.selector);
            } });
          } }
        ], d.rows, 'No clicks on this page in this scope.');
      });
    },
    referrers: function () {
      var by = $('ref-by').value;
      return api('referrers', scope({ by: by })).then(function (d) {
        barChart($('ref-chart'), d.rows, 'key', 'sessions');
        table($('ref-table'), [
          { label: by, key: 'key' },
          { label: 'Sessions', key: 'sessions', num: true },
          { label: 'Visitors', key: 'visitors', num: true }
        ], d.rows);
        if (d.rows && d.rows.length) $('ref-table').appendChild(h('p', { class: 'muted', text: fmtNum(d.sessions) + ' sessions, ' + fmtNum(d.visitors) + ' visitors in all' }));
      });
    },
    devices: function () {
      var by = $('dev-by').value;
      return api('devices', scope({ by: by })).then(function (d) {
        barChart($('dev-chart'), d.rows, 'key', 'sessions');
        table($('dev-table'), [
          { label: by, key: 'key' },
          { label: 'Sessions', key: 'sessions', num: true },
          { label: 'Visitors', key: 'visitors', num: true }
        ], d.rows);
        if (d.rows && d.rows.length) $('dev-table').appendChild(h('p', { class: 'muted', text: fmtNum(d.sessions) + ' sessions, ' + fmtNum(d.visitors) + ' visitors in all' }));
      });
    },
    sessions: function () {
      var sel = $('selector').value.trim();
      var limit = parseInt($('limit').value, 10) || 50;
      return api('sessions', scope({ selector: sel, limit: limit, page: undefined })).then(function (d) {
        $('sessions-caption').textContent = (sel ? 'Sessions that clicked ' + sel : 'Sessions') + ': ' + fmtNum(d.total) + ' in all' + ((d.rows || []).length < (d.total || 0) ? ', the first ' + d.rows.length + ' shown' : '');
        table($('sessions-table'), [
          { label: 'Session', key: 'session', fmt: function (v) {
            return v;
          } },
          { label: 'First seen', key: 'first_ts', fmt: fmtTime },
          { label: 'Entry page', key: 'entry_page' },
          { label: 'Referrer', key: 'referrer' },
          { label: 'Channel', key: 'channel' },
          { label: 'Device', key: 'device' },
          { label: 'Browser', key: 'browser' },
          { label: 'OS', key: 'os' },
          { label: '', node: function (r) {
            return h('span', null,
              h('button', { type: 'button', text: 'replay', onclick: function () {
                $('replay-session').value = r.session;
                showTab('replay');
                showReplay();
              } }), ' ',
              h('button', { type: 'button', text: 'delete', title: 'Request deletion of this session', onclick: function () {
                if (!window.confirm('Request deletion of session ' + r.session + '?')) return;
                requestDeletion({ site: site(), session: r.session }).then(function (rec) {
                  return showTab('deletions').then(function () {
                    setStatus(deletionMessage(rec));
                  });
                }).catch(function () {});
              } }));
          } }
        ], d.rows);
      });
    },
    replay: function () {
      return Promise.resolve();
    },
    deletions: function () {
      return api('deletions', { site: site() }).then(function (rows) {
        rows = Array.isArray(rows) ? rows.slice().reverse() : [];
        table($('deletions-table'), [
          { label: '#', key: 'id', num: true },
          { label: 'Site', key: 'site' },
          { label: 'Target', key: 'target', fmt: function (t) {
            if (!t) return '\u2013';
            if (t.kind === 'time_range') return 'time range ' + fmtTime(t.from) + ' \u2013 ' + fmtTime(t.to);
            if (t.kind === 'site') return 'all data of the site';
            return t.kind + (t.hash !== undefined ? ' (hash ' + t.hash + ')' : '');
          } },
          { label: 'Status', key: 'status' },
          { label: 'Requested', key: 'requested_at', fmt: fmtTime },
          { label: 'Hidden', key: 'hidden_at', fmt: fmtTime },
          { label: 'Deadline', key: 'deadline', fmt: fmtTime },
          { label: 'Purged', key: 'purged_at', fmt: fmtTime },
          { label: 'Erased', key: 'erased_at', fmt: fmtTime },
          { label: 'Rows removed', key: 'rows_removed', num: true },
          { label: 'Derived from', key: 'derived_from', fmt: function (v) {
            return v === null || v === undefined ? '\u2013' : '#' + v;
          } }
        ], rows, 'No deletion requests.');
      });
    }
  };

  function render() {
    if (!token) {
      setStatus('Enter the API token to start.');
      return Promise.resolve();
    }
    if (!site()) {
      setStatus('Pick or type a site.', true);
      return Promise.resolve();
    }
    setStatus('Loading\u2026');
    var tab = activeTab;
    return renderers[tab]().then(function () {
      if (tab === activeTab) setStatus('');
    }).catch(fail);
  }

  function showTab(name) {
    activeTab = name;
    Array.prototype.forEach.call(document.querySelectorAll('#tabs [data-tab]'), function (b) {
      b.setAttribute('aria-selected', b.getAttribute('data-tab') === name ? 'true' : 'false');
    });
    Array.prototype.forEach.call(document.querySelectorAll('.tab'), function (t) {
      t.hidden = t.id !== 'tab-' + name;
    });
    return render();
  }
  function sessionsFor(selector) {
    $('selector').value = selector || '';
    return showTab('sessions');
  }

  // ---- the page with the overlay ---------------------------------------------------
  function fillOrigins() {
    var sel = $('origin');
    var list = originsOf(site());
    var current = sel.value;
    clear(sel);
    list.forEach(function (o) {
      sel.appendChild(h('option', { value: o, text: o }));
    });
    if (list.indexOf(current) >= 0) sel.value = current;
    sel.hidden = !list.length;
    $('origin-text').hidden = !!list.length;
  }
  function overlayUrl(cfg, path) {
    var o = pageOrigin();
    if (!/^https?:\/\//.test(o)) throw new Error('the page origin is unknown: type it (e.g. https://www.example.com)');
    if (path.charAt(0) !== '/') path = '/' + path;
    return o + path + '#heatstore-overlay=' + b64url(JSON.stringify(cfg));
  }
  function overlayConfig(extra) {
    var sc = scope();
    var cfg = { server: location.origin, token: token, site: sc.site };
    ['from', 'to', 'device', 'browser', 'os', 'referrer', 'channel', 'include_bots'].forEach(function (k) {
      if (sc[k] !== undefined && sc[k] !== '') cfg[k] = sc[k];
    });
    Object.keys(extra).forEach(function (k) {
      cfg[k] = extra[k];
    });
    return cfg;
  }
  function loadFrame(frame, url, w, hgt) {
    frame.style.width = w + 'px';
    frame.style.height = hgt + 'px';
    // Same page: a new fragment re-configures the running overlay
    // (hashchange); another page: a normal load.
    frame.src = url;
  }
  function showOverlay() {
    try {
      var mode = $('overlay-mode').value;
      var cfg = overlayConfig({ mode: mode, kind: $('kind').value, page: page(), cols: 64, row_px: 16 });
      var url = overlayUrl(cfg, page());
      loadFrame($('overlay-frame'), url, width.w, width.h);
      var link = $('overlay-link');
      link.href = url;
      setStatus('Loading ' + mode + ' of ' + page() + ' at ' + width.w + ' px\u2026');
    } catch (e) {
      fail(e);
    }
  }
  function showReplay() {
    var key = $('replay-session').value.trim();
    if (!key) return fail('give a session');
    setStatus('Loading session ' + key + '\u2026');
    fillOrigins();
    return api('replay', { site: site(), session: key }).then(function (events) {
      events = Array.isArray(events) ? events : (events && (events.events || events.rows)) || [];
      table($('replay-table'), [
        { label: 'Time', key: 'ts', fmt: fmtTime },
        { label: 'Type', key: 'type' },
        { label: 'Page', key: 'page' },
        { label: 'x', key: 'x', num: true },
        { label: 'y', key: 'y', num: true },
        { label: 'Viewport', key: 'vw', fmt: function (v, r) {
          return v ? v + (r.vh ? '\u00d7' + r.vh : '') : '\u2013';
        } },
        { label: 'Element', key: 'selector' },
        { label: 'Detail', key: 'type', fmt: function (t, r) {
          if (t === 'input') return r.len + ' characters (never the text)';
          if (t === 'leave') return fmtNum(r.duration_ms) + ' ms on the page';
          if (t === 'custom') return r.name;
          if (t === 'pageview') return (r.load_ms !== undefined ? 'load ' + r.load_ms + ' ms' : '') + (r.dh ? ' \u00b7 document ' + r.dh + ' px' : '');
          if (t === 'scroll') return 'scrolled to ' + r.y + (r.dh ? ' of ' + r.dh : '');
          return '';
        } }
      ], events, 'This session has no events (or it was deleted).');
      var first = null;
      for (var i = 0; i < events.length; i++) {
        if (events[i].type === 'pageview' && events[i].page) {
          first = events[i];
          break;
        }
      }
      first = first || events[0];
      if (!first) return setStatus('');
      var vw = first.vw || 1280;
      var vh = first.vh || 800;
      var cfg = overlayConfig({ mode: 'replay', session: key, follow: $('replay-follow').checked, autoplay: true });
      loadFrame($('replay-frame'), overlayUrl(cfg, first.page || '/'), Math.min(vw, 3000), Math.min(vh, 3000));
      setStatus('Replaying ' + events.length + ' events at the visitor\u2019s viewport of ' + vw + '\u00d7' + vh + '.');
    }).catch(fail);
  }
  window.addEventListener('message', function (e) {
    var m = e.data;
    if (!m || m.source !== 'heatstore-overlay') return;
    var allowed = originsOf(site());
    var typed = pageOrigin();
    if (allowed.indexOf(e.origin) < 0 && e.origin !== typed) return;
    if (m.type === 'ready') {
      var d = m.data || {};
      setStatus('Drawn: ' + m.mode + ' of ' + m.page + ' at ' + m.width + ' px' + (d.total !== undefined ? ' \u00b7 total ' + d.total : '') + (d.sessions !== undefined ? ' \u00b7 ' + d.sessions + ' sessions' : '') + (d.events !== undefined ? ' \u00b7 ' + d.events + ' events' : ''));
    } else if (m.type === 'error') {
      setStatus('Overlay: ' + m.error, true);
    } else if (m.type === 'selector' && typeof m.selector === 'string') {
      sessionsFor(m.selector);
    }
  });

  // ---- deletions -------------------------------------------------------------------
  function deletionMessage(rec) {
    return 'Deletion request #' + (rec && rec.id) + ' recorded: hidden at once, erased by ' + fmtTime(rec && rec.deadline) + ' at the latest.';
  }
  function requestDeletion(body) {
    return api('deletions', {}, { body: body }).then(function (rec) {
      setStatus(deletionMessage(rec));
      return rec;
    }).catch(function (e) {
      fail(e);
      throw e;
    });
  }
  $('deletion-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var kind = $('del-kind').value;
    var body = { site: site() };
    var id = $('del-id').value.trim();
    if (kind === 'visitor' || kind === 'session') {
      if (!id) return fail('give the ' + kind + ' id');
      body[kind] = id;
    } else if (kind === 'range') {
      body.from = timeOf('from');
      body.to = timeOf('to');
      if (body.from === undefined || body.to === undefined) return fail('set From and To above for a time range');
    } else {
      if (!window.confirm('Delete ALL data of ' + body.site + '?')) return;
      body.all = true;
    }
    requestDeletion(body).then(function (rec) {
      $('del-id').value = '';
      return render().then(function () {
        setStatus(deletionMessage(rec));
      });
    }).catch(function () {});
  });
  $('del-kind').addEventListener('change', function () {
    var k = $('del-kind').value;
    $('del-id-label').hidden = !(k === 'visitor' || k === 'session');
  });

  // ---- start ------------------------------------------------------------------------
  function loadSites() {
    var sel = $('site');
    var wanted = sessionStorage.getItem('heatstore-site');
    return api('sites').then(function (list) {
      clear(sel);
      (list || []).forEach(function (name) {
        sel.appendChild(h('option', { value: name, text: name }));
      });
      if (!list || !list.length) throw new Error('no sites yet');
      if (wanted && list.indexOf(wanted) >= 0) sel.value = wanted;
      sel.hidden = false;
      $('site-text').hidden = true;
    }).catch(function (e) {
      // The list is not available: let the user type the site.
      sel.hidden = true;
      $('site-text').hidden = false;
      if (wanted) $('site-text').value = wanted;
      if (e.status === 401) throw e;
      setStatus('Could not list the sites (' + (e.message || e) + '): type one.', true);
    }).then(function () {
      return api('sites/detail').then(function (d) {
        sitesDetail = Array.isArray(d) ? d : [];
      }).catch(function () {
        sitesDetail = [];
      });
    });
  }
  function start() {
    if (!token) {
      setStatus('Enter the API token to start.');
      return;
    }
    $('token').value = '';
    $('token').placeholder = 'token set (' + token.length + ' characters)';
    loadSites().then(function () {
      fillOrigins();
      // With no site list, keep the "type one" message until a site is typed.
      if (site()) return render();
    }).catch(fail);
  }

  $('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var t = $('token').value.trim();
    if (!t) return;
    token = t;
    sessionStorage.setItem(TOKEN_KEY, t);
    start();
  });
  $('forget-token').addEventListener('click', function () {
    token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    $('token').placeholder = 'Bearer token';
    setStatus('Token forgotten.');
  });
  Array.prototype.forEach.call(document.querySelectorAll('#tabs [data-tab]'), function (b) {
    b.addEventListener('click', function () {
      showTab(b.getAttribute('data-tab'));
    });
  });
  $('apply').addEventListener('click', function () {
    render();
    if (activeTab === 'heatmap' && $('overlay-frame').getAttribute('src')) showOverlay();
  });
  $('site').addEventListener('change', function () {
    sessionStorage.setItem('heatstore-site', site());
    fillOrigins();
    render();
  });
  $('site-text').addEventListener('change', function () {
    sessionStorage.setItem('heatstore-site', site());
  });
  ['interval', 'ref-by', 'dev-by'].forEach(function (id) {
    $(id).addEventListener('change', render);
  });
  $('load-sessions').addEventListener('click', render);
  $('show-overlay').addEventListener('click', showOverlay);
  $('show-replay').addEventListener('click', showReplay);
  ['overlay-mode', 'kind'].forEach(function (id) {
    $(id).addEventListener('change', function () {
      if ($('overlay-frame').getAttribute('src')) showOverlay();
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('#widths [data-w]'), function (b) {
    b.addEventListener('click', function () {
      width = { w: +b.getAttribute('data-w'), h: +b.getAttribute('data-h') };
      Array.prototype.forEach.call(document.querySelectorAll('#widths [data-w]'), function (o) {
        o.setAttribute('aria-pressed', o === b ? 'true' : 'false');
      });
      if ($('overlay-frame').getAttribute('src')) showOverlay();
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-range]'), function (b) {
    b.addEventListener('click', function () {
      var days = +b.getAttribute('data-range');
      var pad = function (n) {
        return (n < 10 ? '0' : '') + n;
      };
      var local = function (d) {
        return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
      };
      if (!days) {
        $('from').value = '';
        $('to').value = '';
      } else {
        var now = new Date();
        $('to').value = local(new Date(now.getTime() + 60000));
        $('from').value = local(new Date(now.getTime() - days * 86400000));
      }
      render();
    });
  });
  start();
})();
