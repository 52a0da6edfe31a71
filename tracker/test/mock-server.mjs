// A stand-in for `heatstore serve` in the browser tests, on 127.0.0.1 only.
//
// Two origins:
//   api  (http://127.0.0.1:A) serves /heatstore.js, /heatstore.min.js,
//        /heatstore-overlay.js, the dashboard (/ , /dashboard.js, /dashboard.css),
//        records every POST /collect batch and POST /api/opt-out call, and answers
//        the other /api/* routes from JSON fixtures (Bearer token required).
//   demo (http://127.0.0.1:B) serves tracker/demo/ (the "client's website").
//
// Use from a test:  const m = await startMock(); ... m.batches ... await m.close();
// Or by hand:       node test/mock-server.mjs [apiPort] [demoPort]
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const trackerDir = path.resolve(here, '..');
const dashboardDir = path.resolve(trackerDir, '..', 'dashboard');
const demoDir = path.join(trackerDir, 'demo');
const fixtureDir = path.join(here, 'fixtures');

export const TOKEN = 'test-token';
export const SITE = 'demo.test';
const MAX_BODY = 256 * 1024;

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
};

function loadFixtures() {
  const f = {};
  for (const name of readdirSync(fixtureDir)) {
    if (name.endsWith('.json')) f[name.slice(0, -5)] = JSON.parse(readFileSync(path.join(fixtureDir, name), 'utf8'));
  }
  return f;
}

// Overlay fixtures drawn over the demo page (tracker/demo/index.html): the
// hot cells sit on #buy (document box x 40..240, y 400..460 at any width).
export function overlayFixtures() {
  const heat = [];
  // cols 64 at 1280 px: 20 px per column; rows of 16 px.
  for (const [col, row, count] of [
    [5, 26, 40], [6, 26, 60], [7, 26, 30], [5, 27, 25], [6, 27, 50], [7, 27, 20],
    [40, 10, 5], [41, 10, 3],
  ]) heat.push({ col, row, count });
  const t0 = 1_700_000_000_000;
  return {
    heatmap: { cells: heat, total: heat.reduce((a, c) => a + c.count, 0), skipped: 2, cols: 64, row_px: 16 },
    elements: {
      rows: [
        { selector: '#buy', clicks: 120, mean_ex: 5000, mean_ey: 5000 },
        { selector: '#header-cta', clicks: 30, mean_ex: 2500, mean_ey: 5000 },
        { selector: 'body > main > section > div:nth-of-type(2)', clicks: 12 },
        { selector: '#does-not-exist', clicks: 3, mean_ex: 1, mean_ey: 1 },
      ],
      total: 165,
    },
    scroll: {
      sessions: 100,
      steps: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((depth) => ({ depth, sessions: Math.max(0, 100 - depth) })),
    },
    replay: [
      { ts: t0, type: 'pageview', page: '/', vw: 1280, vh: 800, dh: 1600, load_ms: 300 },
      { ts: t0 + 200, type: 'move', page: '/', x: 300, y: 200, vw: 1280 },
      { ts: t0 + 400, type: 'move', page: '/', x: 250, y: 350, vw: 1280 },
      { ts: t0 + 600, type: 'move', page: '/', x: 140, y: 425, vw: 1280 },
      { ts: t0 + 800, type: 'click', page: '/', x: 140, y: 430, vw: 1280, selector: '#buy', ex: 5000, ey: 5000 },
      { ts: t0 + 1000, type: 'scroll', page: '/', y: 200, vw: 1280, vh: 800, dh: 1600 },
      { ts: t0 + 1200, type: 'input', page: '/', len: 5, selector: '#name-field' },
      { ts: t0 + 1400, type: 'leave', page: '/', duration_ms: 1400 },
    ],
  };
}

export function emptyOverlayFixtures() {
  return {
    heatmap: { cells: [], total: 0, skipped: 0, cols: 64, row_px: 16 },
    elements: { rows: [], total: 0 },
    scroll: { sessions: 0, steps: [] },
    replay: [],
  };
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });
}

function readBody(req, limit) {
  return new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    let over = false;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve({ over, size, text: Buffer.concat(chunks).toString('utf8') }));
  });
}

// trackerServer: where the demo pages load heatstore.js from and send events
// to (default: this mock's api origin; the real server in HEATSTORE_SERVER mode).
export async function startMock({ apiPort = 0, demoPort = 0, log = false, trackerServer = null } = {}) {
  const fixtures = loadFixtures();
  const state = {
    batches: [], // {at, headers, body, json}
    optOuts: [], // {at, headers, body, json}
    apiCalls: [], // {method, url, auth}
    overlay: overlayFixtures(),
    deletions: JSON.parse(JSON.stringify(fixtures.deletions || [])),
  };
  let demoOrigin = '';
  let apiOrigin = '';
  const demoServer = () => state.bootServer || trackerServer || apiOrigin;

  const api = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const origin = req.headers.origin;
    const cors = {
      'Access-Control-Allow-Origin': origin || '*',
      'Access-Control-Allow-Headers': 'Authorization, Content-Type',
      'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
      'Access-Control-Max-Age': '600',
      Vary: 'Origin',
    };
    const send = (status, body, type = 'application/json') => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...cors });
      res.end(text);
    };
    if (log) console.log('[api]', req.method, req.url);
    try {
      if (req.method === 'OPTIONS') {
        res.writeHead(204, cors);
        return res.end();
      }
      const p = url.pathname;
      if (req.method === 'POST' && p === '/collect') {
        const b = await readBody(req, MAX_BODY);
        if (b.over) return send(413, { error: 'body over 256 KiB' });
        let json = null;
        try {
          json = JSON.parse(b.text);
        } catch {
          state.batches.push({ at: Date.now(), headers: req.headers, body: b.text, json: null });
          return send(400, { error: 'not JSON' });
        }
        state.batches.push({ at: Date.now(), headers: req.headers, body: b.text, json });
        const events = Array.isArray(json && json.events) ? json.events : [];
        return send(200, { accepted: events.length, rejected: [] });
      }
      if (req.method === 'POST' && p === '/api/opt-out') {
        const b = await readBody(req, 16 * 1024);
        let json = null;
        try {
          json = JSON.parse(b.text);
        } catch {}
        state.optOuts.push({ at: Date.now(), headers: req.headers, body: b.text, json });
        return send(200, { ok: true });
      }
      if (req.method === 'GET' && ['/heatstore.js', '/heatstore.min.js', '/heatstore-overlay.js'].includes(p)) {
        const file = { '/heatstore.js': 'heatstore.js', '/heatstore.min.js': 'dist/heatstore.min.js', '/heatstore-overlay.js': 'overlay.js' }[p];
        return send(200, await readFile(path.join(trackerDir, file), 'utf8'), TYPES['.js']);
      }
      if (req.method === 'GET' && (p === '/' || p === '/index.html' || p === '/dashboard.js' || p === '/dashboard.css')) {
        const file = p === '/' ? 'index.html' : p.slice(1);
        return send(200, await readFile(path.join(dashboardDir, file), 'utf8'), TYPES[path.extname(file)]);
      }
      if (p.startsWith('/api/')) {
        const auth = req.headers.authorization || '';
        state.apiCalls.push({ method: req.method, url: req.url, auth, origin: origin || null });
        if (auth !== 'Bearer ' + TOKEN) return send(401, { error: 'missing or wrong bearer token' });
        const q = url.searchParams;
        const route = p.slice(5);
        if (req.method === 'POST' && route === 'deletions') {
          const b = await readBody(req, 16 * 1024);
          let body;
          try {
            body = JSON.parse(b.text);
          } catch {
            return send(400, { error: 'not JSON' });
          }
          if (!body.site) return send(400, { error: 'site is required' });
          let target;
          if (body.visitor) target = { kind: 'visitor', hash: 1234 };
          else if (body.session) target = { kind: 'session', hash: 5678 };
          else if (body.from !== undefined && body.to !== undefined) target = { kind: 'time_range', from: body.from, to: body.to };
          else if (body.all === true) target = { kind: 'site' };
          else return send(400, { error: 'give visitor, session, from and to, or all' });
          const now = Date.now();
          const rec = { id: state.deletions.length + 1, site: body.site, target, requested_at: now, deadline: now + 30 * 86400000, hidden_at: now, purged_at: null, erased_at: null, rows_removed: null, status: 'pending', derived_from: null };
          state.deletions.push(rec);
          return send(200, rec);
        }
        if (req.method !== 'GET') return send(405, { error: 'method not allowed' });
        const need = (name) => {
          if (!q.get(name)) throw Object.assign(new Error(name + ' is required'), { status: 400 });
        };
        switch (route) {
          case 'sites':
            if (state.failSites) return send(500, { error: 'listing sites failed (test switch)' });
            return send(200, [SITE]);
          case 'sites/detail':
            return send(200, [{ site: SITE, origins: [demoOrigin] }]);
          case 'heatmap':
            need('site');
            need('page');
            return send(200, state.overlay.heatmap);
          case 'elements':
            need('site');
            return send(200, state.overlay.elements);
          case 'scroll':
            need('site');
            need('page');
            return send(200, state.overlay.scroll);
          case 'replay': {
            need('site');
            need('session');
            // A session this mock collected: its events, shaped as the real
            // server's replay (page instead of url, no ids), in ts order. This
            // lets the tests' HEATSTORE_SERVER mode be tried against a mock.
            const mine = [];
            for (const b of state.batches) {
              if (!b.json || b.json.site !== q.get('site')) continue;
              for (const e of b.json.events || []) {
                if (e.session !== q.get('session')) continue;
                const { session, visitor, url, referrer, lang, tz, screen_w, screen_h, dnt, ...rest } = e;
                mine.push({ ...rest, page: new URL(url, 'http://x').pathname });
              }
            }
            if (mine.length) return send(200, mine.sort((a, b) => a.ts - b.ts));
            // Tracker ids (22 characters) not collected (yet): no events, as
            // the real server would answer. Other keys: the replay fixture.
            if (/^[A-Za-z0-9_-]{22}$/.test(q.get('session'))) return send(200, []);
            return send(200, state.overlay.replay);
          }
          case 'referrers':
            need('site');
            return send(200, fixtures['referrers-' + (q.get('by') || 'host')] || { error: 'bad by' });
          case 'devices':
            need('site');
            return send(200, fixtures['devices-' + (q.get('by') || 'class')] || { error: 'bad by' });
          case 'pages':
            need('site');
            return send(200, fixtures.pages);
          case 'series':
            need('site');
            return send(200, fixtures['series-' + (q.get('interval') || 'day')]);
          case 'sessions':
            need('site');
            return send(200, fixtures.sessions);
          case 'rage':
            need('site');
            return send(200, { bursts: 1, sessions: 1, rows: [{ selector: '#buy', bursts: 1, clicks: 4 }] });
          case 'deletions':
            return send(200, state.deletions);
          default:
            return send(404, { error: 'no such route' });
        }
      }
      return send(404, { error: 'not found' });
    } catch (e) {
      return send(e.status || 500, { error: String(e.message || e) });
    }
  });

  const demo = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    let p = url.pathname;
    if (log) console.log('[demo]', req.method, req.url);
    if (p === '/' || p.startsWith('/spa/')) p = '/index.html';
    const file = path.join(demoDir, path.normalize(p).replace(/^(\.\.[/\\])+/, ''));
    if (!file.startsWith(demoDir)) {
      res.writeHead(403);
      return res.end();
    }
    try {
      let body = await readFile(file);
      if (p === '/boot.js') {
        // The demo's "tiny inline config": pages without ?server= (e.g. in the
        // dashboard's iframe) use this server.
        body = `window.HEATSTORE_DEMO = window.HEATSTORE_DEMO || { server: ${JSON.stringify(demoServer())} };\n` + body;
      }
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
    }
  });

  const ap = await listen(api, apiPort);
  const dp = await listen(demo, demoPort);
  const apiUrl = `http://127.0.0.1:${ap}`;
  const demoUrl = `http://127.0.0.1:${dp}`;
  demoOrigin = demoUrl;
  apiOrigin = apiUrl;

  return {
    apiUrl,
    demoUrl,
    state,
    get batches() {
      return state.batches;
    },
    get optOuts() {
      return state.optOuts;
    },
    // Every event received so far, each with the batch's site.
    events() {
      const out = [];
      for (const b of state.batches) {
        if (b.json && Array.isArray(b.json.events)) for (const e of b.json.events) out.push({ ...e, _site: b.json.site });
      }
      return out;
    },
    reset() {
      state.bootServer = null;
      state.failSites = false;
      state.batches.length = 0;
      state.optOuts.length = 0;
      state.apiCalls.length = 0;
    },
    setOverlay(fx) {
      state.overlay = fx;
    },
    close() {
      api.closeAllConnections?.();
      demo.closeAllConnections?.();
      return Promise.all([new Promise((r) => api.close(r)), new Promise((r) => demo.close(r))]);
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const m = await startMock({ apiPort: +(process.argv[2] || 8080), demoPort: +(process.argv[3] || 8081), log: true });
  console.log(`api + dashboard: ${m.apiUrl}/   (token: ${TOKEN})`);
  console.log(`demo site:       ${m.demoUrl}/?server=${m.apiUrl}`);
}
