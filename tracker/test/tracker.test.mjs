// Browser tests of the heatstore tracker, overlay and dashboard.
//
// Drives Debian's Chromium (/usr/bin/chromium) with playwright-core against
// test/mock-server.mjs (127.0.0.1 only). Plain node script: prints one line per
// test and a closing "browser: N passed, N failed"; exits 1 on any failure.
//
// Against the real server: HEATSTORE_SERVER=http://127.0.0.1:PORT and
// HEATSTORE_TOKEN=... make the demo pages load heatstore.js from that server and
// send their events there; the event assertions then read the events back
// through GET /api/replay?site=&session= (the raw session id from the page's
// first-party storage). The demo pages are still served by the mock's second
// origin, and the overlay and dashboard tests still use the mock's fixtures.
// HEATSTORE_SITE picks the site name (default demo.test). Tests that need the
// raw request bodies (cookieless ids, exact wire format) are skipped there.
//
// Options: HEATSTORE_TEST_FILTER=substring runs only the matching tests.
import { chromium } from 'playwright-core';
import { startMock, TOKEN as MOCK_TOKEN, SITE as MOCK_SITE, overlayFixtures, emptyOverlayFixtures } from './mock-server.mjs';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(here, 'out');
mkdirSync(outDir, { recursive: true });

const REAL = process.env.HEATSTORE_SERVER ? process.env.HEATSTORE_SERVER.replace(/\/$/, '') : null;
const REAL_TOKEN = process.env.HEATSTORE_TOKEN || '';
const SITE = REAL ? process.env.HEATSTORE_SITE || MOCK_SITE : MOCK_SITE;
const FILTER = process.env.HEATSTORE_TEST_FILTER || '';
// Against the mock every test has a site of its own, so that a late beacon of
// an earlier test's closed page cannot count for this one.
let siteNow = SITE;
const mySite = (b) => b.json && b.json.site === siteNow;
const myBatches = () => mock.batches.filter(mySite);
const myOptOuts = () => mock.optOuts.filter(mySite);
const myEvents = () => mock.events().filter((e) => e._site === siteNow);
const TEST_TIMEOUT = +(process.env.HEATSTORE_TEST_TIMEOUT_MS || 60000); // per test; generous for a loaded 2-core machine
const FLUSH = 400; // data-flush-interval used by most tests (ms)

const DESKTOP = { name: 'desktop', viewport: { width: 1280, height: 800 } };
const MOBILE = { name: 'mobile', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

// ---- a tiny runner ---------------------------------------------------------
const tests = [];
function test(name, fn, opts = {}) {
  tests.push({ name, fn, ...opts });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, timeout = 10000, every = 50) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(every);
  }
}

// ---- browser and servers -----------------------------------------------------
// HEATSTORE_DEMO_PORT: the demo origin's port, when the real server was
// started with --site NAME=http://127.0.0.1:PORT (its pages' origin).
const mock = await startMock({ trackerServer: REAL, demoPort: +(process.env.HEATSTORE_DEMO_PORT || 0) });
const TRACKER_SERVER = REAL || mock.apiUrl;
// playwright's launch() gives the browser a fresh temporary --user-data-dir of
// its own (it refuses one passed in args); every test gets a new context, so
// no storage or cookie survives from one test to the next.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  // Our own handlers below end the run; playwright's would only close the
  // browser and let the remaining tests fail one by one.
  handleSIGINT: false,
  handleSIGTERM: false,
  handleSIGHUP: false,
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    console.log(`browser: stopped by ${sig}`);
    try {
      await browser.close();
    } catch {}
    process.exit(2);
  });
}

const pageErrors = []; // {test, error}
let current = '';

// A context with request capture: every request any page of it makes.
async function newContext(device, opts = {}) {
  const { name, ...ctxOpts } = device;
  const ctx = await browser.newContext({ ...ctxOpts, ...opts });
  ctx.requests = [];
  ctx.on('request', (r) => {
    ctx.requests.push({ url: r.url(), method: r.method(), headers: r.headers(), body: r.postData() || '', type: r.resourceType() });
  });
  ctx.on('page', (p) => watchPage(p));
  return ctx;
}
function watchPage(p) {
  if (p._watched) return;
  p._watched = true;
  p.consoleErrors = [];
  p.on('pageerror', (e) => pageErrors.push({ test: current, error: String(e && e.stack ? e.stack : e) }));
  p.on('console', (m) => {
    if (m.type() === 'error') p.consoleErrors.push(m.text());
  });
}
function demoUrl(pathname, params = {}) {
  const q = new URLSearchParams({ server: TRACKER_SERVER, site: siteNow, 'flush-interval': String(FLUSH), ...params });
  return `${mock.demoUrl}${pathname}?${q}`;
}
async function open(ctx, pathname, params) {
  const page = await ctx.newPage();
  watchPage(page);
  await page.goto(demoUrl(pathname, params));
  await page.waitForFunction(() => window.heatstore && window.heatstore.v === 1);
  return page;
}
function collectRequests(ctx) {
  return ctx.requests.filter((r) => r.method === 'POST' && r.url.startsWith(TRACKER_SERVER + '/collect'));
}

// Events the tracker delivered, in arrival order, each with `page` (the path).
// Mock: every event the mock received since the test began. Real server: the
// replay of the session named in the page's first-party storage.
async function storedSession(page) {
  return page.evaluate(() => {
    let raw = null;
    try {
      raw = localStorage.getItem('_hs_s');
    } catch (e) {}
    raw = raw || (document.cookie.match(/_hs_s=([^;]*)/) || [])[1];
    return raw ? decodeURIComponent(raw).split('.')[0] : null;
  });
}
async function delivered(page, sessionHint) {
  if (!REAL) {
    return myEvents().map((e) => ({ ...e, page: new URL(e.url, 'http://x').pathname }));
  }
  const session = sessionHint || (page && (await storedSession(page)));
  if (!session) return [];
  const r = await fetch(`${REAL}/api/replay?site=${encodeURIComponent(siteNow)}&session=${encodeURIComponent(session)}`, {
    headers: { Authorization: 'Bearer ' + REAL_TOKEN },
  });
  if (!r.ok) return [];
  const j = await r.json();
  return Array.isArray(j) ? j : j.events || j.rows || [];
}
// GET /api/<path> of the real server (HEATSTORE_SERVER mode), as JSON.
async function realApi(pathAndQuery) {
  const r = await fetch(`${REAL}/api/${pathAndQuery}`, { headers: { Authorization: 'Bearer ' + REAL_TOKEN } });
  assert.equal(r.status, 200, `GET /api/${pathAndQuery}: ${r.status}`);
  return r.json();
}
async function waitFor(page, what, pred, timeout = 10000, sessionHint) {
  return until(what, async () => {
    const evs = await delivered(page, sessionHint);
    const hit = evs.filter(pred);
    return hit.length ? hit : null;
  }, timeout, 100);
}
function bodiesText(ctx) {
  // Everything that left the browser (urls, headers, bodies), plus what the mock received.
  const browserSide = ctx.requests.map((r) => r.url + '\n' + JSON.stringify(r.headers) + '\n' + r.body).join('\n');
  const serverSide = mock.batches.map((b) => b.body).join('\n') + mock.optOuts.map((b) => b.body).join('\n'); // every test's, to be safe
  return browserSide + '\n' + serverSide;
}
const near = (a, b, tol, msg) => assert.ok(Math.abs(a - b) <= tol, `${msg}: ${a} is not within ${tol} of ${b}`);

// ---- tracker tests ---------------------------------------------------------------
for (const dev of [DESKTOP, MOBILE]) {
  test(`${dev.name}: pageview carries the page, viewport, document height, load time and ids`, async () => {
    const ctx = await newContext(dev);
    const page = await open(ctx, '/', { utm_source: 'news', secret: 'tok123' });
    const [pv] = await waitFor(page, 'a pageview', (e) => e.type === 'pageview');
    assert.equal(pv.page, '/');
    assert.equal(pv.vw, dev.viewport.width);
    assert.equal(pv.vh, dev.viewport.height);
    const dh = await page.evaluate(() => Math.max(document.body.scrollHeight, document.documentElement.scrollHeight));
    assert.equal(pv.dh, dh);
    assert.ok(Number.isInteger(pv.ts) && Math.abs(pv.ts - Date.now()) < 60000, 'ts is integer ms');
    if (!REAL) {
      assert.ok(Number.isInteger(pv.load_ms) && pv.load_ms >= 0, 'load_ms: ' + pv.load_ms);
      assert.ok(pv.session && pv.visitor, 'session and visitor ids');
      assert.equal(pv.lang, await page.evaluate(() => navigator.language));
      assert.equal(pv.tz, await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone));
      assert.equal(pv.screen_w, await page.evaluate(() => screen.width));
      // Only utm_* query parameters leave the browser; never the fragment or other parameters.
      assert.equal(new URL(pv.url).search, '?utm_source=news');
      const toServer = ctx.requests.filter((r) => r.url.startsWith(TRACKER_SERVER));
      assert.ok(toServer.every((r) => !(r.url + r.body).includes('tok123')), 'other query parameters are not sent');
      assert.ok(!myBatches().some((b) => b.body.includes('tok123')), 'other query parameters are not received');
      for (const e of myEvents()) {
        for (const f of ['ua', 'ip', 'site', 'value', 'text']) assert.ok(!(f in e), `event has no ${f}`);
      }
      const b = myBatches()[0];
      assert.equal(b.headers['content-type'], 'text/plain;charset=UTF-8');
      assert.equal(b.json.site, siteNow);
      assert.ok(Array.isArray(b.json.events));
      assert.ok(!('cookie' in b.headers), 'no cookie sent to the server');
    }
    await ctx.close();
  });

  test(`${dev.name}: click on #buy: page coordinates, selector, in-element position`, async () => {
    const ctx = await newContext(dev);
    const page = await open(ctx, '/');
    await page.evaluate(() => window.scrollTo(0, 150));
    await sleep(50);
    const box = await page.locator('#buy').boundingBox();
    const ox = 50;
    const oy = 15;
    if (dev.hasTouch) await page.touchscreen.tap(box.x + ox, box.y + oy);
    else await page.mouse.click(box.x + ox, box.y + oy);
    const scroll = await page.evaluate(() => ({ x: scrollX, y: scrollY }));
    const [c] = await waitFor(page, 'a click', (e) => e.type === 'click');
    near(c.x, box.x + ox + scroll.x, 1, 'x');
    near(c.y, box.y + oy + scroll.y, 1, 'y');
    assert.equal(c.y, 400 + oy, 'y is the document coordinate (box top 400 + offset)');
    assert.equal(c.selector, '#buy');
    near(c.ex, Math.round((ox / box.width) * 10000), 10000 / box.width + 1, 'ex');
    near(c.ey, Math.round((oy / box.height) * 10000), 10000 / box.height + 1, 'ey');
    assert.equal(c.vw, dev.viewport.width);
    if (REAL) {
      // Through the reports: the click in its heatmap cell (cols 64, rows of
      // 16 px) and on its element. Headless Chromium's UA is a bot's, hence
      // include_bots.
      const q = `site=${encodeURIComponent(siteNow)}&page=/&include_bots=true`;
      const col = Math.min(63, Math.floor((c.x * 64) / c.vw));
      const row = Math.floor(c.y / 16);
      const h = await realApi(`heatmap?${q}&cols=64&row_px=16`);
      assert.ok(h.cells.some((x) => x.col === col && x.row === row && x.count >= 1), `cell (${col}, ${row}) in ${JSON.stringify(h.cells)}`);
      const el = await realApi(`elements?${q}`);
      assert.ok(el.rows.some((r) => r.selector === '#buy' && r.clicks >= 1), 'elements: ' + JSON.stringify(el.rows));
    }
    const [t] = await waitFor(page, 'the custom event', (e) => e.type === 'custom');
    assert.equal(t.name, 'buy-clicked');
    await ctx.close();
  });

  test(`${dev.name}: click inside the fixed header after scrolling`, async () => {
    const ctx = await newContext(dev);
    const page = await open(ctx, '/');
    await page.evaluate(() => window.scrollTo(0, 300));
    await sleep(50);
    const box = await page.locator('#header-cta').boundingBox();
    assert.equal(box.y, 12, 'the header stays at the top of the viewport');
    await page.mouse.click(box.x + 60, box.y + 20);
    const [c] = await waitFor(page, 'a click', (e) => e.type === 'click');
    assert.equal(c.selector, '#header-cta');
    near(c.y, 300 + 12 + 20, 1, 'y = document coordinate at the current scroll');
    near(c.x, box.x + 60, 1, 'x');
    near(c.ex, 5000, 90, 'ex');
    near(c.ey, 5000, 260, 'ey');
    await ctx.close();
  });
}

test('desktop: selectors of elements without id: stable attribute, else a short nth-of-type path', async () => {
  const ctx = await newContext(DESKTOP);
  const page = await open(ctx, '/');
  // locator.click scrolls each element into view and clicks at `position` in it.
  await page.locator('.card:nth-of-type(2) .title').click({ position: { x: 5, y: 5 } });
  await page.locator('[data-testid=third-card]').click({ position: { x: 10, y: 10 } });
  await page.evaluate(() => document.getElementById('tall-link').addEventListener('click', (e) => e.preventDefault()));
  await page.locator('#tall-link').click({ position: { x: 3, y: 3 } });
  const clicks = await until('three clicks', async () => {
    const cs = (await delivered(page)).filter((e) => e.type === 'click');
    return cs.length >= 3 ? cs.sort((x, y) => x.ts - y.ts) : null;
  });
  const [a, b, l] = clicks;
  assert.equal(a.selector, 'body > main > section > div:nth-of-type(2) > span');
  assert.equal(b.selector, 'div[data-testid="third-card"]');
  assert.equal(l.selector, '#tall-link');
  // Each selector finds the element that was clicked.
  assert.equal(await page.evaluate((s) => document.querySelector(s).textContent, a.selector), 'Second card, no id');
  await ctx.close();
});

for (const dev of [DESKTOP, MOBILE]) {
  test(`${dev.name}: scrolls to known depths send y = scrollTop with vh and dh`, async () => {
    const ctx = await newContext(dev);
    const page = await open(ctx, '/tall.html');
    const dh = await page.evaluate(() => document.documentElement.scrollHeight);
    assert.equal(dh, 5000);
    const bottom = dh - dev.viewport.height;
    for (const y of [1000, 2500, bottom]) {
      await page.evaluate((y) => window.scrollTo(0, y), y);
      await sleep(400); // > data-scroll-interval (250 ms)
    }
    const scrolls = await until('three scrolls', async () => {
      const s = (await delivered(page)).filter((e) => e.type === 'scroll');
      return s.length >= 3 ? s : null;
    });
    const ys = scrolls.map((s) => s.y);
    for (const y of [1000, 2500, bottom]) assert.ok(ys.includes(y), `a scroll with y=${y} in ${ys}`);
    const last = scrolls.find((s) => s.y === bottom);
    assert.equal(last.vh, dev.viewport.height);
    assert.equal(last.dh, 5000);
    assert.equal(last.vw, dev.viewport.width);
    await ctx.close();
  });
}

for (const dev of [DESKTOP, MOBILE]) {
  test(`${dev.name}: inputs send only the length; sensitive fields send nothing at all`, async () => {
    const ctx = await newContext(dev);
    const page = await open(ctx, '/form.html');
    const typed = 'Zq9xQuokkaDistinct';
    const secrets = { '#pw': 'Pw7HunterTwo', '#secret-field': 'Sn4Mariposa', '#card-number': '4111111111111111' };
    await page.click('#name-field');
    await page.keyboard.type(typed, { delay: 10 });
    for (const [sel, text] of Object.entries(secrets)) {
      await page.click(sel);
      await page.keyboard.type(text, { delay: 5 });
    }
    await sleep(500);
    await page.evaluate(() => window.heatstore.flush());
    const [inp] = await waitFor(page, 'an input event', (e) => e.type === 'input');
    await sleep(FLUSH + 300);
    const evs = await delivered(page);
    const inputs = evs.filter((e) => e.type === 'input');
    assert.ok(inputs.length >= 1);
    assert.equal(inputs[inputs.length - 1].len, typed.length);
    assert.equal(inp.selector, '#name-field');
    assert.ok(inputs.every((e) => e.selector === '#name-field'), 'inputs only from the normal field: ' + JSON.stringify(inputs));
    for (const sel of Object.keys(secrets)) {
      assert.ok(!evs.some((e) => e.selector === sel), `no event names ${sel}`);
    }
    const all = bodiesText(ctx) + JSON.stringify(evs);
    for (const text of [typed, ...Object.values(secrets)]) {
      assert.ok(!all.includes(text), `"${text}" never leaves the browser`);
      assert.ok(!all.includes(text.slice(0, 6)), `no part of "${text}" leaves the browser`);
    }
    await ctx.close();
  });
}

test('desktop: SPA navigation sends a leave for the old path and a pageview of the new one', async () => {
  const ctx = await newContext(DESKTOP);
  const page = await open(ctx, '/');
  await waitFor(page, 'the first pageview', (e) => e.type === 'pageview');
  await sleep(300);
  await page.click('#spa-link');
  const [pv] = await waitFor(page, 'a pageview of /spa/next', (e) => e.type === 'pageview' && e.page === '/spa/next');
  const [lv] = await waitFor(page, 'a leave of /', (e) => e.type === 'leave' && e.page === '/');
  assert.ok(lv.duration_ms >= 300, 'duration_ms ' + lv.duration_ms);
  if (!REAL) assert.equal(new URL(pv.referrer).pathname, '/');
  assert.equal(pv.vw, 1280);
  // Clicks after the navigation belong to the new path.
  await page.mouse.click(140, 430);
  const [c] = await waitFor(page, 'a click on /spa/next', (e) => e.type === 'click' && e.page === '/spa/next');
  assert.equal(c.selector, '#buy');
  await ctx.close();
});

test('desktop: leaving (closing the page, following a link) delivers a leave with duration_ms', async () => {
  const ctx = await newContext(DESKTOP);
  const page = await open(ctx, '/');
  const session = await until('a session id', () => storedSession(page));
  await sleep(600);
  await page.click('#tall-link');
  await page.waitForURL(/tall\.html/);
  const [lv] = await waitFor(page, 'a leave of / after the link', (e) => e.type === 'leave' && e.page === '/', 5000, session);
  assert.ok(lv.duration_ms >= 600, 'duration ' + lv.duration_ms);
  await sleep(700);
  await page.close({ runBeforeUnload: true });
  const leaves = await waitFor(null, 'a leave of /tall.html after closing', (e) => e.type === 'leave' && e.page === '/tall.html', 5000, session);
  assert.ok(leaves[0].duration_ms >= 700, 'duration ' + leaves[0].duration_ms);
  // Every /collect request the browser reported was a beacon (resource type "ping").
  const sent = collectRequests(ctx);
  assert.ok(sent.length >= 1 && sent.every((r) => r.type === 'ping'), 'sent by navigator.sendBeacon: ' + sent.map((r) => r.type));
  if (!REAL) assert.ok(myEvents().every((e) => e.session === session), 'one session across both pages');
  await ctx.close();
});

test('desktop: ids: one session across pages; 30 minutes idle start a new session with its own pageview', async () => {
  if (REAL) return 'skip';
  const ctx = await newContext(DESKTOP);
  const page = await ctx.newPage();
  watchPage(page);
  await page.clock.install();
  await page.goto(demoUrl('/'));
  await page.waitForFunction(() => window.heatstore && window.heatstore.v === 1);
  await page.clock.runFor(1000);
  const [pv1] = await waitFor(page, 'the first pageview', (e) => e.type === 'pageview');
  await page.goto(demoUrl('/tall.html'));
  await page.waitForFunction(() => window.heatstore && window.heatstore.v === 1);
  await page.clock.runFor(1000);
  const [pv2] = await waitFor(page, 'the second pageview', (e) => e.type === 'pageview' && e.page === '/tall.html');
  assert.equal(pv2.session, pv1.session, 'same session on the next page');
  assert.equal(pv2.visitor, pv1.visitor, 'same visitor');
  assert.match(pv1.session, /^[A-Za-z0-9_-]{22}$/);
  await page.clock.fastForward('31:00');
  await page.mouse.click(200, 200);
  await page.clock.runFor(1000);
  const [c] = await waitFor(page, 'a click after the idle time', (e) => e.type === 'click');
  assert.notEqual(c.session, pv1.session, 'a new session');
  assert.equal(c.visitor, pv1.visitor, 'the same visitor');
  const pv3 = myEvents().filter((e) => e.type === 'pageview' && e.session === c.session);
  assert.equal(pv3.length, 1, 'the new session starts with a pageview');
  assert.equal(new URL(pv3[0].url).pathname, '/tall.html');
  assert.ok(pv3[0].ts <= c.ts);
  await ctx.close();
});

for (const [label, init] of [
  ['Do-Not-Track (navigator.doNotTrack = "1")', () => Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1', configurable: true })],
  ['Do-Not-Track (window.doNotTrack = "1")', () => Object.defineProperty(window, 'doNotTrack', { value: '1', configurable: true })],
  ['Global Privacy Control', () => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true })],
]) {
  test(`desktop: ${label}: nothing is recorded or sent`, async () => {
    const ctx = await newContext(DESKTOP);
    await ctx.addInitScript(init);
    const page = await open(ctx, '/');
    await page.mouse.move(100, 100);
    await page.mouse.move(300, 300);
    await page.mouse.click(140, 430);
    await page.evaluate(() => window.scrollTo(0, 200));
    await page.evaluate(() => window.heatstore.track('x'));
    await sleep(FLUSH + 600);
    await page.goto(demoUrl('/tall.html'));
    await sleep(300);
    assert.equal(await page.evaluate(() => window.heatstore.recording()), false);
    assert.equal(collectRequests(ctx).length, 0, 'no /collect request');
    if (!REAL) assert.equal(myBatches().length, 0, 'the server got nothing');
    const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('_hs')).concat(document.cookie ? [document.cookie] : []));
    assert.deepEqual(stored, [], 'no id stored');
    await ctx.close();
  });
}

test('desktop: data-respect-dnt="false" records under DNT and marks events dnt: true', async () => {
  if (REAL) return 'skip';
  const ctx = await newContext(DESKTOP);
  await ctx.addInitScript(() => Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1', configurable: true }));
  const page = await open(ctx, '/', { 'respect-dnt': 'false' });
  const [pv] = await waitFor(page, 'a pageview', (e) => e.type === 'pageview');
  assert.equal(pv.dnt, true);
  await ctx.close();
});

test('desktop: heatstore.optOut() posts the opt-out, stops at once and stays off after reload', async () => {
  const ctx = await newContext(DESKTOP);
  const page = await open(ctx, '/');
  const [pv] = await waitFor(page, 'a pageview', (e) => e.type === 'pageview');
  const visitor = await page.evaluate(() => localStorage.getItem('_hs_v'));
  assert.ok(visitor);
  if (!REAL) assert.equal(pv.visitor, visitor);
  await page.mouse.move(10, 10);
  await page.evaluate(() => window.heatstore.optOut());
  const optReq = await until('the opt-out request', async () => ctx.requests.find((r) => r.url === TRACKER_SERVER + '/api/opt-out'));
  assert.deepEqual(JSON.parse(optReq.body), { site: siteNow, visitor });
  if (!REAL) {
    const o = await until('the opt-out at the server', async () => myOptOuts()[0]);
    assert.deepEqual(o.json, { site: siteNow, visitor });
  }
  const before = collectRequests(ctx).length;
  const serverBefore = myBatches().length;
  await page.mouse.move(200, 200);
  await page.mouse.click(140, 430);
  await page.evaluate(() => window.scrollTo(0, 300));
  await sleep(FLUSH + 500);
  await page.reload();
  await page.waitForFunction(() => window.heatstore && window.heatstore.v);
  await page.mouse.click(140, 430);
  await sleep(FLUSH + 500);
  await page.close({ runBeforeUnload: true });
  await sleep(300);
  assert.equal(collectRequests(ctx).length, before, 'no /collect after opting out');
  if (!REAL) assert.equal(myBatches().length, serverBefore, 'the server got nothing more');
  if (REAL) {
    // The server filed the opt-out as a visitor deletion request.
    const dels = await until('the opt-out\'s deletion request', async () => {
      const d = await realApi(`deletions?site=${encodeURIComponent(siteNow)}`);
      return d.some((x) => x.target && x.target.kind === 'visitor') ? d : null;
    });
    assert.ok(dels.length >= 1);
  }
  await ctx.close();
});

test('desktop: heatstore.optIn() after optOut() records again with new ids', async () => {
  if (REAL) return 'skip';
  const ctx = await newContext(DESKTOP);
  const page = await open(ctx, '/');
  await waitFor(page, 'a pageview', (e) => e.type === 'pageview');
  const v1 = await page.evaluate(() => localStorage.getItem('_hs_v'));
  await page.evaluate(() => window.heatstore.optOut());
  await page.evaluate(() => window.heatstore.optIn());
  await page.mouse.click(140, 430);
  const [c] = await waitFor(page, 'a click after opting in', (e) => e.type === 'click');
  assert.ok(c.visitor && c.visitor !== v1, 'a new visitor id');
  await ctx.close();
});

test('desktop: cookieless mode sends neither session nor visitor and stores nothing', async () => {
  if (REAL) return 'skip';
  const ctx = await newContext(DESKTOP);
  const page = await open(ctx, '/', { cookieless: 'true' });
  await page.mouse.click(140, 430);
  await waitFor(page, 'a pageview and a click', (e) => e.type === 'click');
  const evs = myEvents();
  assert.ok(evs.length >= 2);
  for (const e of evs) {
    assert.ok(!('session' in e) && !('visitor' in e), 'no ids: ' + JSON.stringify(e));
  }
  const stored = await page.evaluate(() => Object.keys(localStorage).concat(document.cookie ? [document.cookie] : []));
  assert.deepEqual(stored, []);
  await page.evaluate(() => window.heatstore.optOut());
  const o = await until('the opt-out', async () => myOptOuts()[0]);
  assert.deepEqual(o.json, { site: siteNow }, 'cookieless opt-out names no visitor');
  await ctx.close();
});

test('desktop: moves are sampled (at most one per 100 ms), batches stay small, only the endpoint is contacted', async () => {
  const ctx = await newContext(DESKTOP);
  const page = await open(ctx, '/');
  const t0 = Date.now();
  for (let i = 0; i < 120; i++) await page.mouse.move(20 + i * 5, 100 + (i % 7) * 20);
  const elapsed = Date.now() - t0;
  await sleep(FLUSH + 400);
  const moves = (await delivered(page)).filter((e) => e.type === 'move');
  assert.ok(moves.length >= 2, 'some moves: ' + moves.length);
  assert.ok(moves.length <= Math.ceil(elapsed / 100) + 2, `${moves.length} moves in ${elapsed} ms`);
  const ts = moves.map((m) => m.ts).sort((a, b) => a - b);
  for (let i = 1; i < ts.length; i++) assert.ok(ts[i] - ts[i - 1] >= 90, 'spacing ' + (ts[i] - ts[i - 1]));
  for (const m of moves) assert.equal(m.vw, 1280);
  if (!REAL) {
    for (const b of myBatches()) {
      assert.ok(b.json.events.length <= 60, 'batch of ' + b.json.events.length);
      assert.ok(b.body.length < 64 * 1024);
    }
  }
  const hosts = new Set(ctx.requests.map((r) => new URL(r.url).origin));
  for (const h of hosts) assert.ok(h === mock.demoUrl || h === TRACKER_SERVER, 'unexpected host ' + h);
  await ctx.close();
});

test('desktop: a full batch (50 events) is sent at once, before the flush interval', async () => {
  if (REAL) return 'skip';
  const ctx = await newContext(DESKTOP);
  const page = await open(ctx, '/', { 'flush-interval': '60000' });
  await sleep(200);
  await page.evaluate(() => {
    for (let i = 0; i < 60; i++) window.heatstore.track('e' + i);
  });
  const b = await until('a batch', async () => myBatches()[0], 2000);
  assert.ok(b.json.events.length >= 50 && b.json.events.length <= 51, 'batch size ' + b.json.events.length);
  await ctx.close();
});

test('desktop: never throws into the page, even when storage throws (cookie fallback)', async () => {
  const ctx = await newContext(DESKTOP);
  await ctx.addInitScript(() => {
    Object.defineProperty(window, 'localStorage', { get() { throw new Error('storage disabled'); }, configurable: true });
  });
  const page = await open(ctx, '/');
  await page.mouse.click(140, 430);
  await page.evaluate(() => {
    history.pushState({}, '', '/spa/x');
    window.heatstore.track(null);
    window.heatstore.track({ toString() { throw new Error('boom'); } });
  });
  await page.click('#spa-link');
  const [c] = await waitFor(page, 'a click', (e) => e.type === 'click');
  if (!REAL) assert.ok(c.session && c.visitor, 'ids kept in first-party cookies');
  const cookie = await page.evaluate(() => document.cookie);
  assert.match(cookie, /_hs_v=/);
  assert.deepEqual(pageErrors.filter((e) => e.test === current), []);
  await ctx.close();
});

test('desktop: the minified build (dist/heatstore.min.js) records the same click', async () => {
  const ctx = await newContext(DESKTOP);
  const page = await open(ctx, '/', { min: '1' });
  await page.mouse.click(140, 430);
  const [c] = await waitFor(page, 'a click', (e) => e.type === 'click');
  assert.equal(c.selector, '#buy');
  assert.equal(c.x, 140);
  assert.equal(c.y, 430);
  await ctx.close();
}, { realOk: true });

// ---- overlay ----------------------------------------------------------------------
function overlayHash(cfg) {
  return '#heatstore-overlay=' + Buffer.from(JSON.stringify(cfg)).toString('base64url');
}
// Decodes a PNG screenshot in the browser and reads pixels back.
let decoder = null;
async function pixels(png, points) {
  if (!decoder) {
    const ctx = await browser.newContext();
    decoder = await ctx.newPage();
  }
  return decoder.evaluate(async ({ b64, points }) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    return points.map(([x, y]) => Array.from(g.getImageData(x, y, 1, 1).data));
  }, { b64: png.toString('base64'), points });
}
const diff = (a, b) => Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]);

async function overlayShot(mode, fixtures, extra = {}) {
  mock.setOverlay(fixtures);
  // The overlay always runs against the mock API (it serves the fixtures).
  const ctx = await newContext(DESKTOP);
  const page = await ctx.newPage();
  watchPage(page);
  const cfg = { server: mock.apiUrl, token: MOCK_TOKEN, site: MOCK_SITE, mode, kind: 'click', session: 'abc', ...extra };
  const q = new URLSearchParams({ server: mock.apiUrl, site: MOCK_SITE });
  await page.goto(`${mock.demoUrl}/?${q}${overlayHash(cfg)}`);
  await page.waitForSelector('[data-heatstore-overlay][data-ready]', { timeout: 15000 });
  await sleep(100);
  const png = await page.screenshot();
  writeFileSync(path.join(outDir, `overlay-${mode}-${fixtures.heatmap.cells.length ? 'data' : 'empty'}.png`), png);
  const url = page.url();
  const errors = page.consoleErrors.slice();
  await ctx.close();
  return { png, url, errors, cfg };
}

test('overlay: the click heatmap is drawn on the hot cells (screenshot vs an empty fixture)', async () => {
  mock.reset();
  const hot = await overlayShot('heatmap', overlayFixtures());
  const cold = await overlayShot('heatmap', emptyOverlayFixtures());
  // Hot cells: cols 5..7 (20 px each at 1280), rows 26..27 (16 px) -> x 100..160, y 416..448.
  const pts = [[130, 424], [130, 440], [115, 430], [150, 430], [822, 168]];
  const far = [[1000, 300], [600, 700]];
  const a = await pixels(hot.png, pts.concat(far));
  const b = await pixels(cold.png, pts.concat(far));
  for (let i = 0; i < pts.length; i++) assert.ok(diff(a[i], b[i]) > 60, `pixel ${pts[i]} differs: ${a[i]} vs ${b[i]}`);
  for (let i = pts.length; i < a.length; i++) assert.ok(diff(a[i], b[i]) < 10, `pixel ${a[i]} away from data is unchanged`);
  // Overlay mode records nothing and the token leaves the address bar.
  assert.equal(mock.batches.filter((b) => b.json && b.json.site === MOCK_SITE).length, 0, 'nothing recorded in overlay mode');
  assert.ok(!hot.url.includes('heatstore-overlay'), 'fragment removed: ' + hot.url);
  const calls = mock.state.apiCalls.filter((c) => c.url.startsWith('/api/heatmap'));
  assert.ok(calls.length >= 2);
  for (const c of calls) {
    assert.equal(c.auth, 'Bearer ' + MOCK_TOKEN);
    assert.equal(c.origin, mock.demoUrl, 'a cross-origin call from the page');
    const q = new URL(c.url, 'http://x').searchParams;
    assert.equal(q.get('site'), MOCK_SITE);
    assert.equal(q.get('page'), '/');
    assert.equal(q.get('kind'), 'click');
    assert.equal(q.get('cols'), '64');
    assert.equal(q.get('row_px'), '16');
  }
  assert.deepEqual(hot.errors, []);
});

test('real server: the clicks recorded here are drawn over the page (screenshot vs a range with no data)', async () => {
  if (!REAL) return 'skip:needs HEATSTORE_SERVER';
  // Record clicks on #buy at a known spot, unscrolled (document = viewport coordinates).
  const ctx = await newContext(DESKTOP);
  const page = await open(ctx, '/');
  const box = await page.locator('#buy').boundingBox();
  const spot = [Math.round(box.x + 50), Math.round(box.y + 15)];
  for (let i = 0; i < 12; i++) await page.mouse.click(spot[0], spot[1]);
  await page.evaluate(() => window.heatstore.flush());
  const col = Math.floor((spot[0] * 64) / 1280);
  const row = Math.floor(spot[1] / 16);
  await until('the clicks in the heatmap', async () => {
    const h = await realApi(`heatmap?site=${encodeURIComponent(siteNow)}&page=/&include_bots=true`);
    return h.cells.some((c) => c.col === col && c.row === row && c.count >= 12);
  });
  await ctx.close();
  // The overlay against the real API, as the dashboard's frame opens it.
  const shot = async (extra) => {
    const c = await newContext(DESKTOP);
    const p = await c.newPage();
    watchPage(p);
    const cfg = { server: REAL, token: REAL_TOKEN, site: siteNow, mode: 'heatmap', kind: 'click', include_bots: true, ...extra };
    const q = new URLSearchParams({ server: REAL, site: siteNow });
    await p.goto(`${mock.demoUrl}/?${q}${overlayHash(cfg)}`);
    await p.waitForSelector('[data-heatstore-overlay][data-ready]', { timeout: 15000 });
    await sleep(100);
    const png = await p.screenshot();
    const errors = p.consoleErrors.slice();
    await c.close();
    return { png, errors };
  };
  const hot = await shot({});
  const cold = await shot({ from: 0, to: 1 });
  writeFileSync(path.join(outDir, 'real-heatmap-data.png'), hot.png);
  writeFileSync(path.join(outDir, 'real-heatmap-empty.png'), cold.png);
  const [a] = await pixels(hot.png, [spot]);
  const [b] = await pixels(cold.png, [spot]);
  assert.ok(diff(a, b) > 60, `the clicked spot ${spot} is coloured: ${a} vs ${b}`);
  assert.deepEqual(hot.errors, []);
});

test('overlay: elements, scroll reach and replay draw over the page', async () => {
  mock.reset();
  const shots = {};
  for (const mode of ['elements', 'scroll', 'replay']) {
    shots[mode] = {
      data: await overlayShot(mode, overlayFixtures(), mode === 'replay' ? { autoplay: true, speed: 8 } : {}),
      empty: await overlayShot(mode, emptyOverlayFixtures()),
    };
  }
  // Elements: the marker sits at #buy's centre (mean_ex/ey 5000), and on #header-cta at 25 %.
  let [a, b] = [await pixels(shots.elements.data.png, [[140, 430], [1144 + 30, 32]]), await pixels(shots.elements.empty.png, [[140, 430], [1144 + 30, 32]])];
  assert.ok(diff(a[0], b[0]) > 60, 'elements marker on #buy');
  assert.ok(diff(a[1], b[1]) > 60, 'elements marker on #header-cta');
  // Scroll: bands over the whole document (0..10 % reached by 100 %).
  [a, b] = [await pixels(shots.scroll.data.png, [[900, 100], [900, 700]]), await pixels(shots.scroll.empty.png, [[900, 100], [900, 700]])];
  assert.ok(diff(a[0], b[0]) > 30 && diff(a[1], b[1]) > 30, 'scroll bands drawn');
  // Replay (played to the end at 8x): scrolled to 200, the click marker on #buy at document y 430 -> viewport y 230.
  [a, b] = [await pixels(shots.replay.data.png, [[140, 230]]), await pixels(shots.replay.empty.png, [[140, 230]])];
  assert.ok(diff(a[0], b[0]) > 60, `replay click marker: ${a[0]} vs ${b[0]}`);
  const replayCall = mock.state.apiCalls.find((c) => c.url.startsWith('/api/replay'));
  assert.ok(replayCall && new URL(replayCall.url, 'http://x').searchParams.get('session') === 'abc');
  assert.equal(mock.batches.filter((b) => b.json && b.json.site === MOCK_SITE).length, 0);
});

test('overlay: a server named in the fragment other than the tracker\'s own is not used', async () => {
  mock.reset();
  mock.setOverlay(overlayFixtures());
  const ctx = await newContext(DESKTOP);
  const page = await ctx.newPage();
  watchPage(page);
  const cfg = { server: 'http://127.0.0.1:9', token: MOCK_TOKEN, site: MOCK_SITE, mode: 'heatmap' };
  await page.goto(`${mock.demoUrl}/?server=${encodeURIComponent(mock.apiUrl)}${overlayHash(cfg)}`);
  await page.waitForSelector('[data-heatstore-overlay][data-ready]', { timeout: 15000 });
  assert.ok(!ctx.requests.some((r) => r.url.startsWith('http://127.0.0.1:9/')), 'no request to the fragment\'s server');
  assert.ok(ctx.requests.some((r) => r.url.startsWith(mock.apiUrl + '/api/heatmap')));
  await ctx.close();
});

// ---- dashboard -------------------------------------------------------------------
test('dashboard: loads, lists the site, renders tables and charts from the API, no console errors', async () => {
  mock.reset();
  mock.setOverlay(overlayFixtures());
  const ctx = await newContext({ name: 'wide', viewport: { width: 1400, height: 1000 } });
  const page = await ctx.newPage();
  watchPage(page);
  await page.goto(mock.apiUrl + '/');
  await page.fill('#token', MOCK_TOKEN);
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#pages-table table');
  assert.deepEqual(await page.$$eval('#site option', (o) => o.map((x) => x.value)), [MOCK_SITE]);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('heatstore-token')), MOCK_TOKEN);
  assert.equal(await page.$$eval('#pages-table tbody tr', (r) => r.length), 10);
  assert.ok(await page.$('#series-chart svg path'));
  await page.screenshot({ path: path.join(outDir, 'dashboard-overview.png') });

  await page.click('[data-tab=referrers]');
  await page.waitForSelector('#ref-table table');
  assert.ok((await page.$$eval('#ref-table tbody tr', (r) => r.length)) > 3);
  assert.ok(await page.$('#ref-chart svg rect'));
  await page.selectOption('#ref-by', 'channel');
  await page.waitForFunction(() => document.querySelector('#ref-table tbody td') && document.querySelector('#ref-table tbody td').textContent === 'search');

  await page.click('[data-tab=devices]');
  await page.waitForSelector('#dev-table table');
  assert.equal(await page.textContent('#dev-table tbody td'), 'mobile');

  // Heatmap over the real page in a 390 px iframe (the demo page's tracker
  // talks to the mock here, also in HEATSTORE_SERVER mode: it has the fixtures).
  mock.state.bootServer = mock.apiUrl;
  await page.click('[data-tab=heatmap]');
  await page.click('#widths [data-w="390"]');
  await page.click('#show-overlay');
  await page.waitForFunction(() => /Drawn: heatmap of \/ at 390 px/.test(document.getElementById('status').textContent), null, { timeout: 15000 });
  const frameUrl = await page.getAttribute('#overlay-frame', 'src');
  assert.ok(frameUrl.startsWith(mock.demoUrl + '/#heatstore-overlay='), frameUrl);
  assert.equal(await page.$eval('#overlay-frame', (f) => f.clientWidth), 390);
  await page.waitForSelector('#elements-table table');
  await page.screenshot({ path: path.join(outDir, 'dashboard-heatmap.png') });

  // The sessions behind an element.
  await page.click('#elements-table tbody tr:first-child button');
  await page.waitForSelector('#sessions-table table');
  assert.equal(await page.inputValue('#selector'), '#buy');
  assert.ok(mock.state.apiCalls.some((c) => c.url.startsWith('/api/sessions') && new URL(c.url, 'http://x').searchParams.get('selector') === '#buy'));

  // The sessions behind a spot of the heatmap: pick the element there.
  await page.click('[data-tab=heatmap]');
  const frame = page.frameLocator('#overlay-frame');
  // The overlay's panel is fixed at the bottom of the frame: bring that into the dashboard's view.
  await page.locator('#overlay-frame').evaluate((f) => f.scrollIntoView({ block: 'end' }));
  await frame.locator('[data-heatstore-pick]').click({ timeout: 15000 });
  const spot = frame.locator('.card:nth-of-type(2) .title');
  await spot.evaluate((el) => el.scrollIntoView({ block: 'start' })); // away from the overlay's panel
  await spot.click({ position: { x: 4, y: 4 }, timeout: 15000 });
  await page.waitForFunction(() => document.getElementById('selector').value === 'body > main > section > div:nth-of-type(2) > span');
  await page.waitForSelector('#tab-sessions:not([hidden]) #sessions-table table');

  // Replay of a session over its page.
  await page.click('#sessions-table tbody tr:first-child button:text("replay")');
  await page.waitForSelector('#replay-table table');
  await page.waitForFunction(() => /Drawn: replay/.test(document.getElementById('status').textContent), null, { timeout: 15000 });

  // A deletion request and its audit record.
  await page.click('[data-tab=deletions]');
  await page.waitForSelector('#deletions-table table');
  const before = await page.$$eval('#deletions-table tbody tr', (r) => r.length);
  await page.selectOption('#del-kind', 'visitor');
  await page.fill('#del-id', 'visitor-123');
  await page.click('#deletion-form button[type=submit]');
  await page.waitForFunction((n) => document.querySelectorAll('#deletions-table tbody tr').length === n + 1, before);
  assert.match(await page.textContent('#status'), /Deletion request #\d+ recorded/);
  const del = mock.state.apiCalls.find((c) => c.method === 'POST' && c.url === '/api/deletions');
  assert.ok(del);

  // Every API call carried the token; nothing went wrong in the console.
  for (const c of mock.state.apiCalls) assert.equal(c.auth, 'Bearer ' + MOCK_TOKEN, c.url);
  assert.deepEqual(page.consoleErrors, []);
  mock.state.bootServer = null;
  await ctx.close();
});

test('dashboard: a wrong token is reported; without /api/sites the site can be typed', async () => {
  const ctx = await newContext({ name: 'wide', viewport: { width: 1400, height: 1000 } });
  const page = await ctx.newPage();
  watchPage(page);
  await page.goto(mock.apiUrl + '/');
  await page.fill('#token', 'wrong');
  await page.click('#token-form button[type=submit]');
  await page.waitForFunction(() => /refused/.test(document.getElementById('status').textContent));
  mock.state.failSites = true;
  try {
    await page.fill('#token', MOCK_TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector('#site-text:not([hidden])');
    assert.match(await page.textContent('#status'), /type one/);
    await page.fill('#site-text', MOCK_SITE);
    await page.click('#apply');
    await page.waitForSelector('#pages-table table');
    const last = mock.state.apiCalls.filter((c) => c.url.startsWith('/api/pages')).pop();
    assert.equal(new URL(last.url, 'http://x').searchParams.get('site'), MOCK_SITE);
  } finally {
    mock.state.failSites = false;
  }
  await ctx.close();
});

// ---- run ------------------------------------------------------------------------------
let passed = 0;
let failed = 0;
let skipped = 0;
let testIndex = 0;
const started = Date.now();
for (const t of tests) {
  if (FILTER && !t.name.includes(FILTER)) continue;
  current = t.name;
  testIndex++;
  siteNow = REAL ? SITE : `t${testIndex}.${MOCK_SITE}`;
  mock.reset();
  const t0 = Date.now();
  try {
    const r = await Promise.race([t.fn(), sleep(TEST_TIMEOUT).then(() => { throw new Error(`test timed out after ${TEST_TIMEOUT / 1000} s`); })]);
    const errs = pageErrors.filter((e) => e.test === t.name);
    if (errs.length) throw new Error('page error: ' + errs.map((e) => e.error).join('; '));
    if (typeof r === 'string' && r.startsWith('skip')) {
      skipped++;
      console.log(`- skip ${t.name} (${r === 'skip' ? "needs the mock's raw bodies" : r.slice(5)})`);
    } else {
      passed++;
      console.log(`ok   ${t.name} (${Date.now() - t0} ms)`);
    }
  } catch (e) {
    failed++;
    console.log(`FAIL ${t.name}\n     ${String(e && e.stack ? e.stack : e).split("\n").slice(0, 14).join('\n     ')}`);
  }
}
await browser.close();
await mock.close();
console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s${REAL ? ', against ' + REAL : ', against the mock server'})`);
console.log(`browser: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
