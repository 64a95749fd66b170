// SPDX-License-Identifier: MIT
// The catalogs (web/i18n/*.json): the same keys in every language, a text
// for every key the pages use, and a localised message for every error
// code the server can answer with.  No browser needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_MESSAGE_KEYS } from '../../web/js/api.js';

const SOURCE = process.env.VERSTAK_SOURCE_ROOT || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WEB = path.join(SOURCE, 'web');

function walk(dir, ext) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p, ext);
    return p.endsWith(ext) ? [p] : [];
  });
}

const catalogs = Object.fromEntries(fs.readdirSync(path.join(WEB, 'i18n'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f.slice(0, -5), JSON.parse(fs.readFileSync(path.join(WEB, 'i18n', f), 'utf8'))]));

test('English and Russian catalogs exist', () => {
  assert.deepEqual(Object.keys(catalogs).sort(), ['en', 'ru']);
});

test('every catalog has exactly the keys of the English one, none empty', () => {
  const en = Object.keys(catalogs.en).sort();
  for (const [lang, cat] of Object.entries(catalogs)) {
    const keys = Object.keys(cat).sort();
    assert.deepEqual(keys.filter((k) => !en.includes(k)), [], `${lang}: keys English lacks`);
    assert.deepEqual(en.filter((k) => !keys.includes(k)), [], `${lang}: keys missing`);
    for (const k of keys) assert.ok(typeof cat[k] === 'string' && cat[k].trim() !== '', `${lang}: ${k} is empty`);
    // The same placeholders in every language.
    for (const k of keys) {
      const want = (catalogs.en[k].match(/\{\w+\}/g) || []).sort();
      assert.deepEqual((cat[k].match(/\{\w+\}/g) || []).sort(), want, `${lang}: ${k} placeholders`);
    }
  }
});

test('every key the pages use is in the catalog', () => {
  const used = new Set();
  for (const f of walk(WEB, '.html')) {
    const html = fs.readFileSync(f, 'utf8');
    for (const m of html.matchAll(/data-i18n="([^"]+)"/g)) used.add(m[1]);
    for (const m of html.matchAll(/data-i18n-attr="([^"]+)"/g)) {
      for (const pair of m[1].split(';')) used.add(pair.split(':')[1].trim());
    }
    for (const m of html.matchAll(/data-title="([^"]+)"/g)) used.add(m[1]);
  }
  for (const f of walk(path.join(WEB, 'js'), '.js')) {
    const js = fs.readFileSync(f, 'utf8');
    for (const m of js.matchAll(/\bt\('([a-z_.]+)'/g)) used.add(m[1]);
    for (const m of js.matchAll(/\bkey: '([a-z_.]+)'/g)) used.add(m[1]);
    for (const m of js.matchAll(/(?:formatDate\([^,)]+, |Key = )'([a-z_.]+)'/g)) used.add(m[1]);
  }
  assert.ok(used.size > 50, `found only ${used.size} keys: the scan is broken`);
  const missing = [...used].filter((k) => !Object.hasOwn(catalogs.en, k));
  assert.deepEqual(missing, []);
});

// Codes the server sends: the API's error table, literal codes given to
// http_reply_error() and its wrappers, and the defaults of
// http_default_code().
function serverErrorCodes() {
  const codes = new Set();
  for (const f of walk(path.join(SOURCE, 'src'), '.c')) {
    const c = fs.readFileSync(f, 'utf8');
    for (const m of c.matchAll(/(?:http_reply_error|reply_op_error|upload_reject)\([^,;]+,\s*[^,;]+,\s*"([a-z_]+)"/g)) codes.add(m[1]);
    // The API's error table (api/errors.c): [API_ERR_X] = {"code", status}.
    for (const m of c.matchAll(/\[API_ERR_\w+\]\s*=\s*\{\s*"([a-z_]+)",\s*\d+\s*\}/g)) codes.add(m[1]);
    const def = c.match(/const char \*http_default_code\([^)]*\)\s*\{([\s\S]*?)\n\}/);
    if (def) for (const m of def[1].matchAll(/"([a-z_]+)"/g)) codes.add(m[1]);
  }
  return codes;
}

test('every error code the server answers with has a localised message', () => {
  const codes = serverErrorCodes();
  for (const must of ['invalid_request', 'unauthorized', 'forbidden', 'rate_limited', 'csrf_invalid',
    'registration_disabled', 'blob_not_owned', 'mail_failed']) {
    assert.ok(codes.has(must), `the scan of src/ missed ${must}`);
  }
  const missing = [...codes].filter((c) => !Object.hasOwn(catalogs.en, `error.code.${c}`));
  assert.deepEqual(missing, []);
});

test('every error text the pages recognise has a localised message', () => {
  const missing = ERROR_MESSAGE_KEYS.filter((k) => !Object.hasOwn(catalogs.en, `error.msg.${k}`));
  assert.deepEqual(missing, []);
});
