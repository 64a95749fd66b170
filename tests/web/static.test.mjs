// SPDX-License-Identifier: MIT
// How the daemon serves the web UI over HTTP, without a browser: types,
// ETag and 304, gzip, the 404 page, methods, and the unavailable page with
// 503 while the store is degraded.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { startServer, waitFor } from './harness.mjs';

let server;
before(async () => { server = await startServer({ name: 'static' }); });
after(async () => { await server?.stop(); });

const get = (p, headers = {}) => fetch(server.url + p, { headers, redirect: 'manual' });

test('pages, styles, scripts and catalogs have their types and security headers', async () => {
  const want = {
    '/': 'text/html; charset=utf-8',
    '/login': 'text/html; charset=utf-8',
    '/register': 'text/html; charset=utf-8',
    '/dashboard': 'text/html; charset=utf-8',
    '/css/app.css': 'text/css; charset=utf-8',
    '/js/api.js': 'text/javascript; charset=utf-8',
    '/i18n/ru.json': 'application/json; charset=utf-8',
    '/favicon.svg': 'image/svg+xml',
  };
  for (const [p, type] of Object.entries(want)) {
    const r = await get(p);
    assert.equal(r.status, 200, p);
    assert.equal(r.headers.get('content-type'), type, p);
    assert.match(r.headers.get('content-security-policy'), /script-src 'self'/, p);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
    assert.equal(r.headers.get('cache-control'), 'no-cache', p);
    assert.match(r.headers.get('etag'), /^"[0-9a-f]{32}(-gz)?"$/, p);
  }
  // What is served is what is in web/.
  const css = await (await get('/css/app.css', { 'Accept-Encoding': 'identity' })).text();
  assert.equal(css, fs.readFileSync(path.join(process.env.VERSTAK_SOURCE_ROOT, 'web/css/app.css'), 'utf8'));
});

test('If-None-Match gives 304 without a body; a changed tag does not', async () => {
  const first = await get('/js/i18n.js', { 'Accept-Encoding': 'identity' });
  const etag = first.headers.get('etag');
  await first.arrayBuffer();
  const again = await get('/js/i18n.js', { 'Accept-Encoding': 'identity', 'If-None-Match': `"other", ${etag}` });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get('etag'), etag);
  assert.equal((await again.arrayBuffer()).byteLength, 0);
  const weak = await get('/js/i18n.js', { 'Accept-Encoding': 'identity', 'If-None-Match': `W/${etag}` });
  assert.equal(weak.status, 304);
  const other = await get('/js/i18n.js', { 'Accept-Encoding': 'identity', 'If-None-Match': '"0000"' });
  assert.equal(other.status, 200);
  await other.arrayBuffer();
});

test('gzip when accepted, the same bytes once unpacked, a tag of its own', async () => {
  // fetch() would unpack on its own: ask with node's http instead.
  const http = await import('node:http');
  const raw = (headers) => new Promise((resolve, reject) => {
    http.get(`${server.url}/css/app.css`, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
  const plain = await raw({ 'Accept-Encoding': 'identity' });
  const gz = await raw({ 'Accept-Encoding': 'br;q=1, gzip;q=0.8' });
  assert.equal(gz.res.headers['content-encoding'], 'gzip');
  assert.equal(gz.res.headers.vary, 'Accept-Encoding');
  assert.ok(gz.body.length < plain.body.length / 2);
  assert.deepEqual(zlib.gunzipSync(gz.body), plain.body);
  assert.notEqual(gz.res.headers.etag, plain.res.headers.etag);
  const refused = await raw({ 'Accept-Encoding': 'gzip;q=0, deflate' });
  assert.equal(refused.res.headers['content-encoding'], undefined);
  assert.deepEqual(refused.body, plain.body);
});

test('unknown pages get the 404 page; API paths stay JSON; pages take only GET', async () => {
  const r = await get('/no/such/page');
  assert.equal(r.status, 404);
  assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const html = await r.text();
  assert.match(html, /<a class="button" href="\/" data-i18n="nav.home">/);
  const api = await get('/api/v1/nothing');
  assert.equal(api.status, 404);
  assert.deepEqual(await api.json(), { error: 'not found', code: 'not_found' });
  // Files without a URL of their own are not served by name.
  for (const p of ['/index', '/404', '/unavailable', '/index.html', '/login.html']) {
    assert.equal((await get(p)).status, 404, p);
  }
  const post = await fetch(`${server.url}/login`, { method: 'POST', body: '{}' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  const head = await fetch(`${server.url}/login`, { method: 'HEAD' });
  assert.equal(head.status, 200);
});

test('GET /api/v1/site says what the pages need', async () => {
  const r = await get('/api/v1/site', { 'Accept-Language': 'ru-RU,ru;q=0.9' });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), {
    server_name: 'Verstak Sync Server', locale: 'ru', default_locale: 'en', locales: ['en', 'ru'],
    allow_registration: true, public_url: null,
  });
  const cookie = await get('/api/v1/site', { 'Accept-Language': 'ru', Cookie: 'verstak_locale=en' });
  assert.equal((await cookie.json()).locale, 'en');
});

test('a degraded store turns / into the unavailable page with 503', async () => {
  const blobs = path.join(server.dataDir, 'blobs');
  const aside = path.join(server.dataDir, 'blobs-aside');
  fs.renameSync(blobs, aside);
  fs.writeFileSync(blobs, 'not a directory');
  try {
    // Health is probed in the background about once a second.
    const r = await waitFor('a degraded home page', async () => {
      const a = await get('/');
      return a.status === 503 ? a : null;
    });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(await r.text(), /data-title="unavailable.title"/);
    assert.equal((await get('/api/v1/health')).status, 503);
  } finally {
    fs.unlinkSync(blobs);
    fs.renameSync(aside, blobs);
  }
  const back = await waitFor('a healthy home page', async () => {
    const a = await get('/');
    return a.status === 200 ? a : null;
  });
  assert.equal(back.status, 200);
  assert.match(await back.text(), /data-title="home.title"/);
});
