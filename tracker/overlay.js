/*! heatstore overlay | MIT OR Apache-2.0 */
// Served as SERVER/heatstore-overlay.js and loaded by heatstore.js when the page
// is opened with #heatstore-overlay=<base64url JSON>. It records nothing: it
// draws heatstore reports over the real page at the current viewport width.
//
// Config (the JSON): {server, token, site, mode: heatmap|scroll|elements|replay,
// kind: click|move, from, to, page, session, device, browser, os, referrer,
// channel, include_bots, cols, row_px, step, limit, at, speed, follow}.
// API calls go to the server the tracker was configured with (the `server`
// of the config is only accepted when it names that same origin).
(function (w, d) {
  'use strict';
  var boot = w.__heatstoreOverlay;
  if (!boot || w.__heatstoreOverlayRunning) return;
  w.__heatstoreOverlayRunning = true;

  var FILTERS = ['from', 'to', 'device', 'browser', 'os', 'referrer', 'channel', 'include_bots', 'selector'];
  var Z = 2147483600;
  var cfg = boot.config || {};
  var server = boot.server;
  var state = { mode: 'heatmap', data: null, error: null, hidden: false, page: location.pathname };
  var dpr = Math.max(1, Math.min(3, w.devicePixelRatio || 1));

  function origin(u) {
    try {
      return new URL(u).origin;
    } catch (e) {
      return null;
    }
  }
  if (cfg.server && origin(cfg.server) !== server) {
    // Refuse to send the token anywhere else than the configured server.
    cfg.server = null;
  }

  // ---- DOM: a canvas over the viewport and a small panel ----------------
  var root = d.createElement('div');
  root.setAttribute('data-heatstore-overlay', '');
  root.style.cssText = 'position:fixed;left:0;top:0;width:100%;height:100%;pointer-events:none;z-index:' + Z + ';margin:0;padding:0;border:0;';
  var canvas = d.createElement('canvas');
  canvas.style.cssText = 'position:absolute;left:0;top:0;pointer-events:none;';
  root.appendChild(canvas);
  var ctx = canvas.getContext('2d');

  var panel = d.createElement('div');
  panel.setAttribute('data-heatstore-overlay-panel', '');
  panel.style.cssText = 'position:fixed;right:8px;bottom:8px;max-width:340px;z-index:' + (Z + 1) +
    ';pointer-events:auto;background:rgba(20,22,34,.92);color:#fff;font:12px/1.4 system-ui,sans-serif;padding:8px 10px;border-radius:6px;box-shadow:0 2px 8px rgba(0,0,0,.4);';
  var title = d.createElement('div');
  title.style.fontWeight = 'bold';
  var info = d.createElement('div');
  var controls = d.createElement('div');
  controls.style.marginTop = '6px';
  var legend = d.createElement('canvas');
  legend.width = 160;
  legend.height = 8;
  legend.style.cssText = 'display:block;margin-top:6px;width:160px;height:8px;';
  panel.appendChild(title);
  panel.appendChild(info);
  panel.appendChild(legend);
  panel.appendChild(controls);

  function button(label, fn) {
    var b = d.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.style.cssText = 'font:12px system-ui,sans-serif;margin:0 4px 0 0;padding:2px 6px;cursor:pointer;';
    b.addEventListener('click', function (e) {
      e.preventDefault();
      e.stopPropagation();
      try {
        fn(b);
      } catch (err) {
        showError(err);
      }
    });
    controls.appendChild(b);
    return b;
  }

  function mount() {
    if (!root.parentNode) (d.body || d.documentElement).appendChild(root);
    if (!panel.parentNode) (d.body || d.documentElement).appendChild(panel);
  }

  function tell(msg) {
    // Status for the dashboard that framed this page (only to its origin).
    try {
      if (w.parent && w.parent !== w) w.parent.postMessage(Object.assign({ source: 'heatstore-overlay' }, msg), server);
    } catch (e) {}
  }

  function showError(err) {
    state.error = String((err && err.message) || err);
    title.textContent = 'heatstore overlay';
    info.textContent = 'Error: ' + state.error;
    tell({ type: 'error', error: state.error });
  }

  // ---- API --------------------------------------------------------------
  function api(route, params) {
    var q = new URLSearchParams();
    q.set('site', cfg.site || boot.site || '');
    Object.keys(params).forEach(function (k) {
      if (params[k] !== undefined && params[k] !== null && params[k] !== '') q.set(k, String(params[k]));
    });
    FILTERS.forEach(function (k) {
      if (cfg[k] !== undefined && cfg[k] !== null && cfg[k] !== '' && !q.has(k)) q.set(k, String(cfg[k]));
    });
    return fetch(server + '/api/' + route + '?' + q.toString(), {
      headers: { Authorization: 'Bearer ' + (cfg.token || '') },
      credentials: 'omit',
      mode: 'cors'
    }).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try {
          j = JSON.parse(t);
        } catch (e) {}
        if (!r.ok) throw new Error((j && j.error) || 'HTTP ' + r.status + ' from /api/' + route);
        return j;
      });
    });
  }

  // ---- colours ----------------------------------------------------------
  // t in 0..1 -> blue, cyan, green, yellow, red.
  function heatColor(t) {
    var stops = [[0, 0, 255], [0, 255, 255], [0, 255, 0], [255, 255, 0], [255, 0, 0]];
    t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    var i = Math.min(stops.length - 2, Math.floor(t));
    var f = t - i;
    var a = stops[i];
    var b = stops[i + 1];
    return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
  }
  function drawLegend(show) {
    legend.style.display = show ? 'block' : 'none';
    if (!show) return;
    var g = legend.getContext('2d');
    for (var x = 0; x < legend.width; x++) {
      var c = heatColor(x / (legend.width - 1));
      g.fillStyle = 'rgb(' + c.join(',') + ')';
      g.fillRect(x, 0, 1, legend.height);
    }
  }

  // ---- geometry ---------------------------------------------------------
  function docHeight() {
    var b = d.body || {};
    var e = d.documentElement || {};
    return Math.max(b.scrollHeight || 0, b.offsetHeight || 0, e.scrollHeight || 0, e.offsetHeight || 0, e.clientHeight || 0) || 1;
  }
  function resize() {
    var cw = w.innerWidth;
    var ch = w.innerHeight;
    if (canvas.width !== Math.round(cw * dpr) || canvas.height !== Math.round(ch * dpr)) {
      canvas.width = Math.round(cw * dpr);
      canvas.height = Math.round(ch * dpr);
      canvas.style.width = cw + 'px';
      canvas.style.height = ch + 'px';
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cw, ch);
  }
  function find(selector) {
    try {
      var el = d.querySelector(selector);
      if (el && root.contains(el)) return null;
      return el;
    } catch (e) {
      return null;
    }
  }

  // ---- heatmap ------------------------------------------------------------
  // The cells become a tiny image (one pixel per cell, with a 3x3 spread for
  // softness), coloured by log(count), scaled onto the page: column c spans
  // [c, c+1) * innerWidth / cols, row r spans [r, r+1) * row_px document px.
  function buildHeat(data) {
    var cols = data.cols || 64;
    var rows = 0;
    data.cells.forEach(function (c) {
      if (c.row + 1 > rows) rows = c.row + 1;
    });
    if (!rows) return null;
    var W = cols + 2;
    var H = rows + 2;
    var grid = new Float32Array(W * H);
    var k = [[0, 0, 1], [-1, 0, 0.35], [1, 0, 0.35], [0, -1, 0.35], [0, 1, 0.35], [-1, -1, 0.15], [1, -1, 0.15], [-1, 1, 0.15], [1, 1, 0.15]];
    data.cells.forEach(function (c) {
      if (c.col < 0 || c.col >= cols || c.row < 0) return;
      for (var i = 0; i < k.length; i++) {
        grid[(c.row + 1 + k[i][1]) * W + (c.col + 1 + k[i][0])] += c.count * k[i][2];
      }
    });
    var max = 0;
    for (var i = 0; i < grid.length; i++) if (grid[i] > max) max = grid[i];
    var img = d.createElement('canvas');
    img.width = W;
    img.height = H;
    var g = img.getContext('2d');
    var id = g.createImageData(W, H);
    var lmax = Math.log(1 + max);
    for (var j = 0; j < grid.length; j++) {
      if (grid[j] <= 0) continue;
      var t = Math.log(1 + grid[j]) / lmax;
      var col = heatColor(t);
      id.data[j * 4] = col[0];
      id.data[j * 4 + 1] = col[1];
      id.data[j * 4 + 2] = col[2];
      id.data[j * 4 + 3] = Math.round(255 * (0.3 + 0.55 * t));
    }
    g.putImageData(id, 0, 0);
    return { img: img, cols: cols, rowPx: data.row_px || 16, W: W, H: H };
  }
  function drawHeat() {
    var h = state.heat;
    if (!h) return;
    var colW = w.innerWidth / h.cols;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(h.img, 0, 0, h.W, h.H, -colW - w.pageXOffset, -h.rowPx - w.pageYOffset, h.W * colW, h.H * h.rowPx);
  }

  // ---- elements -----------------------------------------------------------
  function drawElements() {
    var rows = (state.data && state.data.rows) || [];
    var max = 1;
    rows.forEach(function (r) {
      if (r.clicks > max) max = r.clicks;
    });
    ctx.font = 'bold 12px system-ui,sans-serif';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'center';
    rows.forEach(function (r) {
      var el = find(r.selector);
      if (!el) return;
      var b = el.getBoundingClientRect();
      if (b.bottom < 0 || b.top > w.innerHeight || (b.width === 0 && b.height === 0)) return;
      var t = Math.sqrt(r.clicks / max);
      var c = heatColor(0.35 + 0.65 * t);
      ctx.strokeStyle = 'rgba(' + c.join(',') + ',0.9)';
      ctx.lineWidth = 2;
      ctx.setLineDash([4, 3]);
      ctx.strokeRect(b.left, b.top, b.width, b.height);
      ctx.setLineDash([]);
      var ex = r.mean_ex === undefined || r.mean_ex === null ? 5000 : r.mean_ex;
      var ey = r.mean_ey === undefined || r.mean_ey === null ? 5000 : r.mean_ey;
      var x = b.left + (ex / 10000) * b.width;
      var y = b.top + (ey / 10000) * b.height;
      var rad = 8 + 16 * t;
      ctx.fillStyle = 'rgba(' + c.join(',') + ',0.75)';
      ctx.beginPath();
      ctx.arc(x, y, rad, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillStyle = '#000';
      ctx.fillText(String(r.clicks), x, y);
    });
  }

  // ---- scroll reach -------------------------------------------------------
  function drawScroll() {
    var data = state.data;
    if (!data || !data.steps || !data.steps.length) return;
    var total = data.sessions || data.steps[0].sessions || 1;
    var dhNow = docHeight();
    var steps = data.steps.slice().sort(function (a, b) {
      return a.depth - b.depth;
    });
    ctx.font = '12px system-ui,sans-serif';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    for (var i = 0; i < steps.length; i++) {
      var s = steps[i];
      var y0 = (s.depth / 100) * dhNow - w.pageYOffset;
      var y1 = (i + 1 < steps.length ? steps[i + 1].depth / 100 : 1) * dhNow - w.pageYOffset;
      if (s.depth >= 100) y1 = y0 + 2;
      var frac = s.sessions / total;
      var c = heatColor(frac);
      ctx.fillStyle = 'rgba(' + c.join(',') + ',0.28)';
      if (y1 > 0 && y0 < w.innerHeight) ctx.fillRect(0, y0, w.innerWidth, Math.max(1, y1 - y0));
      if (y0 > -20 && y0 < w.innerHeight + 20) {
        ctx.fillStyle = 'rgba(0,0,0,0.75)';
        ctx.fillRect(0, y0, w.innerWidth, 1);
        var label = s.depth + '% of the page: ' + Math.round(frac * 100) + '% of sessions (' + s.sessions + ')';
        var tw = ctx.measureText(label).width;
        ctx.fillStyle = 'rgba(0,0,0,0.7)';
        var ly = y0 < 18 ? y0 + 17 : y0; // the 0% label goes below its line
        ctx.fillRect(4, ly - 17, tw + 8, 16);
        ctx.fillStyle = '#fff';
        ctx.fillText(label, 8, ly - 3);
      }
    }
  }

  // ---- replay -------------------------------------------------------------
  var rp = null; // {events, vt[], t, playing, speed, last}
  function setupReplay(events) {
    events = (events || []).slice();
    var vt = [];
    var acc = 0;
    for (var i = 0; i < events.length; i++) {
      // Idle gaps longer than 2 s play as 2 s.
      if (i) acc += Math.max(0, Math.min(2000, events[i].ts - events[i - 1].ts));
      vt.push(acc);
    }
    rp = { events: events, vt: vt, t: 0, playing: false, speed: +cfg.speed || 1, last: 0, scrolled: -1, vw: 0, end: acc };
    if (cfg.at) {
      for (var j = 0; j < events.length; j++) {
        if (events[j].ts >= cfg.at) {
          rp.t = vt[j];
          break;
        }
      }
    }
  }
  function pageOf(e) {
    if (e.page) return e.page;
    try {
      return new URL(e.url, location.href).pathname;
    } catch (err) {
      return null;
    }
  }
  function mapX(e, vwRec) {
    var vw = e.vw || vwRec;
    return vw ? (e.x * w.innerWidth) / vw : e.x;
  }
  function drawReplay() {
    if (!rp) return;
    var evs = rp.events;
    var here = location.pathname;
    var vwRec = 0;
    var cursor = null;
    var trail = [];
    var clicks = [];
    var inputs = {};
    var scrollY = null;
    var otherPage = null;
    var idx = -1;
    for (var i = 0; i < evs.length && rp.vt[i] <= rp.t; i++) {
      var e = evs[i];
      idx = i;
      var p = pageOf(e);
      if (e.type === 'pageview') {
        if (p && p !== here) {
          otherPage = { page: p, ts: e.ts };
        } else {
          otherPage = null;
          trail = [];
          clicks = [];
          inputs = {};
        }
        if (e.vw) vwRec = e.vw;
        continue;
      }
      if (p && p !== here) continue;
      if (e.vw) vwRec = e.vw;
      if ((e.type === 'move' || e.type === 'click') && e.x !== undefined) {
        var pt = { x: mapX(e, vwRec), y: e.y, vt: rp.vt[i] };
        if (e.type === 'click' && e.selector) {
          var el = find(e.selector);
          if (el && e.ex !== undefined && e.ey !== undefined) {
            var b = el.getBoundingClientRect();
            pt.x = b.left + w.pageXOffset + (e.ex / 10000) * b.width;
            pt.y = b.top + w.pageYOffset + (e.ey / 10000) * b.height;
          }
        }
        cursor = pt;
        trail.push(pt);
        if (e.type === 'click') clicks.push(pt);
      } else if (e.type === 'scroll') {
        scrollY = e.y;
      } else if (e.type === 'input' && e.selector) {
        inputs[e.selector] = e.len || 0;
      }
    }
    if (scrollY !== null && scrollY !== rp.scrolled) {
      rp.scrolled = scrollY;
      w.scrollTo(w.pageXOffset, scrollY);
    }
    var ox = w.pageXOffset;
    var oy = w.pageYOffset;
    var recent = trail.filter(function (p) {
      return rp.t - p.vt <= 3000;
    });
    if (recent.length > 1) {
      ctx.strokeStyle = 'rgba(255,0,120,0.7)';
      ctx.lineWidth = 2;
      ctx.beginPath();
      recent.forEach(function (p, j) {
        if (j) ctx.lineTo(p.x - ox, p.y - oy);
        else ctx.moveTo(p.x - ox, p.y - oy);
      });
      ctx.stroke();
    }
    clicks.forEach(function (p) {
      var age = rp.t - p.vt;
      ctx.fillStyle = 'rgba(255,40,0,0.8)';
      ctx.beginPath();
      ctx.arc(p.x - ox, p.y - oy, 7, 0, Math.PI * 2);
      ctx.fill();
      if (age < 600) {
        ctx.strokeStyle = 'rgba(255,40,0,' + (1 - age / 600) + ')';
        ctx.lineWidth = 3;
        ctx.beginPath();
        ctx.arc(p.x - ox, p.y - oy, 7 + age / 20, 0, Math.PI * 2);
        ctx.stroke();
      }
    });
    Object.keys(inputs).forEach(function (sel) {
      var el = find(sel);
      if (!el) return;
      var b = el.getBoundingClientRect();
      var dots = new Array(Math.min(40, inputs[sel]) + 1).join('\u2022') + (inputs[sel] > 40 ? '\u2026' : '');
      ctx.font = '14px system-ui,sans-serif';
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      ctx.fillStyle = 'rgba(255,255,200,0.9)';
      var tw = ctx.measureText(dots || '(empty)').width;
      ctx.fillRect(b.left + 2, b.top + 2, tw + 8, Math.max(4, b.height - 4));
      ctx.fillStyle = '#333';
      ctx.fillText(dots || '(empty)', b.left + 6, b.top + b.height / 2);
    });
    if (cursor) {
      var cx = cursor.x - ox;
      var cy = cursor.y - oy;
      ctx.fillStyle = '#fff';
      ctx.strokeStyle = '#000';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(cx, cy);
      ctx.lineTo(cx, cy + 18);
      ctx.lineTo(cx + 5, cy + 13);
      ctx.lineTo(cx + 12, cy + 13);
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
    }
    var ev = idx >= 0 ? evs[idx] : null;
    info.textContent = evs.length
      ? 'Event ' + (idx + 1) + ' / ' + evs.length + (ev ? ' \u00b7 ' + ev.type + ' \u00b7 ' + new Date(ev.ts).toISOString().replace('T', ' ').slice(0, 19) : '') +
        (otherPage ? ' \u00b7 the visitor is on ' + otherPage.page : '')
      : 'This session has no events.';
    rp.other = otherPage;
    if (scrub && !scrub.dragging) scrub.value = String(rp.end ? Math.round((rp.t / rp.end) * 1000) : 0);
    if (otherPage && rp.playing && cfg.follow) followTo(otherPage);
  }
  function followTo(other) {
    var next = Object.assign({}, cfg, { at: other.ts, follow: true });
    var json = JSON.stringify(next);
    var bytes = new TextEncoder().encode(json);
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    var frag = btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    rp.playing = false;
    location.href = location.origin + other.page + '#heatstore-overlay=' + frag;
  }
  var scrub = null;
  function tick(now) {
    if (!rp) return;
    if (rp.playing) {
      var dt = rp.last ? now - rp.last : 0;
      rp.t = Math.min(rp.end, rp.t + dt * rp.speed);
      if (rp.t >= rp.end) {
        rp.playing = false;
        if (playBtn) playBtn.textContent = 'Play';
      }
    }
    rp.last = now;
    draw();
    w.requestAnimationFrame(tick);
  }
  var playBtn = null;
  function replayControls() {
    playBtn = button(rp.playing ? 'Pause' : 'Play', function (b) {
      if (rp.t >= rp.end) rp.t = 0;
      rp.playing = !rp.playing;
      rp.last = 0;
      b.textContent = rp.playing ? 'Pause' : 'Play';
    });
    button(rp.speed + 'x', function (b) {
      rp.speed = rp.speed >= 8 ? 1 : rp.speed * 2;
      b.textContent = rp.speed + 'x';
    });
    button('Next page', function () {
      if (rp.other) followTo(rp.other);
      else {
        for (var i = 0; i < rp.events.length; i++) {
          var e = rp.events[i];
          if (rp.vt[i] > rp.t && e.type === 'pageview' && pageOf(e) !== location.pathname) return followTo({ page: pageOf(e), ts: e.ts });
        }
      }
    });
    scrub = d.createElement('input');
    scrub.type = 'range';
    scrub.min = '0';
    scrub.max = '1000';
    scrub.value = '0';
    scrub.style.cssText = 'display:block;width:100%;margin-top:6px;';
    scrub.addEventListener('input', function () {
      rp.t = (+scrub.value / 1000) * rp.end;
      rp.scrolled = -1;
    });
    scrub.addEventListener('pointerdown', function () {
      scrub.dragging = true;
    });
    scrub.addEventListener('pointerup', function () {
      scrub.dragging = false;
    });
    controls.appendChild(scrub);
  }

  // ---- drawing loop -------------------------------------------------------
  var queued = false;
  function draw() {
    queued = false;
    resize();
    if (state.hidden || state.error) return;
    try {
      if (state.mode === 'heatmap') drawHeat();
      else if (state.mode === 'elements') drawElements();
      else if (state.mode === 'scroll') drawScroll();
      else if (state.mode === 'replay') drawReplay();
    } catch (e) {
      showError(e);
    }
  }
  function redraw() {
    if (!queued && state.mode !== 'replay') {
      queued = true;
      w.requestAnimationFrame(draw);
    }
  }
  w.addEventListener('scroll', redraw, { passive: true });
  w.addEventListener('resize', redraw);

  // ---- element picker ----------------------------------------------------
  // "Pick" + a click on the page: the element under the pointer (a heatmap
  // spot) becomes a selector by the tracker's own rule, and the dashboard lists
  // the sessions that clicked it. The click does not reach the page.
  var picking = false;
  function pickerButton() {
    var b = button('Pick an element', function () {
      picking = !picking;
      b.textContent = picking ? 'Click an element\u2026' : 'Pick an element';
      d.documentElement.style.cursor = picking ? 'crosshair' : '';
    });
    b.title = 'Then click on the page: the dashboard lists the sessions that clicked that element';
    b.setAttribute('data-heatstore-pick', '');
    return b;
  }
  d.addEventListener('click', function (e) {
    if (!picking || panel.contains(e.target)) return;
    e.preventDefault();
    e.stopPropagation();
    picking = false;
    d.documentElement.style.cursor = '';
    var pick = controls.querySelector('[data-heatstore-pick]');
    if (pick) pick.textContent = 'Pick an element';
    var hs = w.heatstore;
    var sel = hs && hs.selectorOf ? hs.selectorOf(e.target) : null;
    if (!sel) return;
    info.textContent = 'Picked ' + sel;
    tell({ type: 'selector', selector: sel });
  }, true);

  // ---- loading a mode ------------------------------------------------------
  var loadSeq = 0;
  function load() {
    var seq = ++loadSeq;
    mount();
    state.error = null;
    state.data = null;
    state.heat = null;
    state.mode = cfg.mode || 'heatmap';
    state.page = cfg.page && cfg.page === location.pathname ? cfg.page : location.pathname;
    while (controls.firstChild) controls.removeChild(controls.firstChild);
    rp = null;
    var kind = cfg.kind === 'move' ? 'move' : 'click';
    var p;
    if (state.mode === 'heatmap') {
      title.textContent = 'heatstore \u00b7 ' + kind + ' heatmap of ' + state.page;
      p = api('heatmap', { page: state.page, kind: kind, cols: cfg.cols || 64, row_px: cfg.row_px || 16 }).then(function (data) {
        state.data = data;
        state.heat = buildHeat({ cells: data.cells || [], cols: data.cols || cfg.cols || 64, row_px: data.row_px || cfg.row_px || 16 });
        info.textContent = (data.total || 0) + ' ' + kind + (data.total === 1 ? '' : 's') + ' in ' + (data.cells || []).length + ' cells' +
          (data.skipped ? ' \u00b7 ' + data.skipped + ' without a viewport left out' : '') + ' \u00b7 columns of ' + (w.innerWidth / (data.cols || 64)).toFixed(1) + ' px at ' + w.innerWidth + ' px';
        drawLegend(true);
      });
    } else if (state.mode === 'elements') {
      title.textContent = 'heatstore \u00b7 clicks per element on ' + state.page;
      p = api('elements', { page: state.page, limit: cfg.limit || 100 }).then(function (data) {
        state.data = data;
        var rows = data.rows || [];
        var missing = rows.filter(function (r) {
          return !find(r.selector);
        });
        info.textContent = (data.total || 0) + ' clicks on ' + rows.length + ' elements' + (missing.length ? ' \u00b7 ' + missing.length + ' not found on this page' : '');
        drawLegend(true);
        // The dashboard can list the sessions behind an element.
        rows.slice(0, 5).forEach(function (r) {
          if (!find(r.selector)) return;
          var b = button(r.clicks + ' \u00b7 ' + (r.selector.length > 28 ? r.selector.slice(0, 27) + '\u2026' : r.selector), function () {
            tell({ type: 'selector', selector: r.selector });
          });
          b.title = 'Sessions that clicked ' + r.selector;
          b.style.display = 'block';
          b.style.marginTop = '3px';
        });
      });
    } else if (state.mode === 'scroll') {
      title.textContent = 'heatstore \u00b7 scroll reach of ' + state.page;
      p = api('scroll', { page: state.page, step: cfg.step || 10 }).then(function (data) {
        state.data = data;
        info.textContent = (data.sessions || 0) + ' sessions \u00b7 bands show the share that scrolled at least that deep';
        drawLegend(true);
      });
    } else if (state.mode === 'replay') {
      title.textContent = 'heatstore \u00b7 replay of session ' + (cfg.session || '?');
      drawLegend(false);
      if (!cfg.session) return showError('no session given');
      p = api('replay', { session: cfg.session }).then(function (data) {
        var events = Array.isArray(data) ? data : (data && (data.events || data.rows)) || [];
        setupReplay(events);
        replayControls();
        if (cfg.at || cfg.autoplay) {
          rp.playing = true;
          playBtn.textContent = 'Pause';
        }
        w.requestAnimationFrame(tick);
      });
    } else {
      return showError('unknown mode ' + state.mode);
    }
    if (state.mode === 'heatmap' || state.mode === 'elements') pickerButton();
    var hide = button('Hide', function (b) {
      state.hidden = !state.hidden;
      b.textContent = state.hidden ? 'Show' : 'Hide';
      draw();
    });
    controls.insertBefore(hide, controls.firstChild);
    p.then(function () {
      if (seq !== loadSeq) return;
      draw();
      tell({ type: 'ready', mode: state.mode, page: state.page, width: w.innerWidth, data: summary() });
      root.setAttribute('data-ready', state.mode);
    }).catch(function (e) {
      if (seq === loadSeq) showError(e);
    });
  }
  function summary() {
    var s = state.data;
    if (!s) return rp ? { events: rp.events.length } : null;
    return { total: s.total, sessions: s.sessions, cells: s.cells ? s.cells.length : undefined, rows: s.rows ? s.rows.length : undefined, skipped: s.skipped };
  }

  // A new #heatstore-overlay= fragment (the dashboard changed mode or
  // filters) re-configures the overlay without a reload.
  w.addEventListener('hashchange', function () {
    var m = /(?:^#|&)heatstore-overlay=([A-Za-z0-9_-]+)/.exec(location.hash || '');
    if (!m) return;
    try {
      var b64 = m[1].replace(/-/g, '+').replace(/_/g, '/');
      var bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
      var bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      var next = JSON.parse(new TextDecoder().decode(bytes));
      history.replaceState(history.state, '', location.pathname + location.search);
      cfg = next;
      if (cfg.server && origin(cfg.server) !== server) cfg.server = null;
      load();
    } catch (e) {
      showError(e);
    }
  });
  // In-page (SPA) navigation: show the reports of the new path.
  setInterval(function () {
    if (state.mode !== 'replay' && location.pathname !== state.page) {
      cfg.page = null;
      load();
    }
  }, 1000);

  function startWhenReady() {
    if (d.body) load();
    else d.addEventListener('DOMContentLoaded', load);
  }
  startWhenReady();
})(window, document);
