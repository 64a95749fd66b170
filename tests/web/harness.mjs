// SPDX-License-Identifier: MIT
// The web suite's harness: starts the real daemon (the build's binary, a
// temporary data directory, its own loopback port, the outbox for mail),
// drives Debian's Chromium headless through playwright-core, and checks
// every page it opens: no JavaScript error, no console error, no CSP
// violation, no serious or critical axe-core finding.  Screenshots go to
// $VERSTAK_WEB_ARTEFACTS.  Suites for other pages (the admin console)
// reuse all of it: startServer(), openBrowser(), openPage(), checkPage(),
// screenshot(), outboxTake(), pairDevice().

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const SERVER_BIN = process.env.VERSTAK_SERVER_BIN;
export const ARTEFACTS = process.env.VERSTAK_WEB_ARTEFACTS || path.join(os.tmpdir(), 'verstak-web-artefacts');
const LOG_DIR = process.env.VERSTAK_TEST_LOG_DIR;
const CHROMIUM = process.env.VERSTAK_CHROMIUM || '/usr/bin/chromium';

// Bounded polling: the only way this suite waits for anything.
export async function waitFor(what, fn, timeoutMs = 10000, stepMs = 25) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Record a secret the daemon must never log (tests/check-logs-for-secrets.sh).
export function noteSecret(secret) {
  if (!LOG_DIR || !secret) return;
  fs.mkdirSync(LOG_DIR, { recursive: true });
  fs.appendFileSync(path.join(LOG_DIR, 'secrets.txt'), `${secret}\n`);
}

let serverCount = 0;

// With VERSTAK_TEST_PG_URL (the CI's PostgreSQL pass), each daemon gets a
// fresh database of its own on that cluster, dropped when it stops, as
// the integration harness does.  The URL names the cluster's
// administrative database: postgresql://…/postgres?host=….
const PG_URL = process.env.VERSTAK_TEST_PG_URL || '';

function pgAdmin(sql) {
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', PG_URL, '-c', sql], { stdio: ['ignore', 'ignore', 'inherit'] });
}

function pgCreate() {
  const name = `verstak_web_${crypto.randomBytes(8).toString('hex')}`;
  pgAdmin(`CREATE DATABASE ${name}`);
  const m = /^(postgres(?:ql)?:\/\/[^/]*)\/[^?]*(\?.*)?$/.exec(PG_URL);
  if (!m) throw new Error('VERSTAK_TEST_PG_URL names no database');
  return { name, url: `${m[1]}/${name}${m[2] || ''}` };
}

// Start the daemon.  config: text of config.yml (optional); admin:
// {username, password} to create that administrator at start.  Resolves
// to {url, dataDir, stop()} once /livez answers.
export async function startServer({ config = '', name = 'web', admin = null } = {}) {
  if (!SERVER_BIN) throw new Error('VERSTAK_SERVER_BIN is not set');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'verstak-web-'));
  fs.chmodSync(dataDir, 0o750);
  const db = PG_URL ? pgCreate() : null;
  if (db) config = `${config}\ndatabase:\n  url: "${db.url}"\n`;
  if (config) fs.writeFileSync(path.join(dataDir, 'config.yml'), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = path.join(dataDir, 'daemon.log');
  const log = fs.openSync(logPath, 'a');
  const args = ['--data', dataDir, '--listen', `127.0.0.1:${port}`];
  if (process.getuid && process.getuid() === 0) args.push('--allow-root');
  if (admin) {
    const passFile = path.join(dataDir, 'admin-pass');
    fs.writeFileSync(passFile, `${admin.password}\n`, { mode: 0o600 });
    noteSecret(admin.password);
    args.push('--admin-user', admin.username, '--admin-pass-file', passFile);
  }
  const env = { ...process.env };
  for (const k of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'JOURNAL_STREAM']) delete env[k];
  const child = spawn(SERVER_BIN, args, { stdio: ['ignore', log, log], env });
  fs.closeSync(log);
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  await waitFor('the daemon to answer /livez', async () => {
    if (exited) throw new Error(`daemon exited (${JSON.stringify(exited)}): ${fs.readFileSync(logPath, 'utf8')}`);
    try {
      return (await fetch(`${url}/livez`)).ok;
    } catch {
      return false;
    }
  }, 20000);
  const index = ++serverCount;
  return {
    url,
    dataDir,
    logPath,
    // Run SQL both back ends speak on the daemon's own database (rows a
    // test writes directly, where the pages would take minutes).
    sql(text) {
      if (db) execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.url, '-c', text], { stdio: ['ignore', 'ignore', 'inherit'] });
      else execFileSync('sqlite3', ['-cmd', '.timeout 10000', path.join(dataDir, 'server.db'), text], { stdio: ['ignore', 'ignore', 'inherit'] });
    },
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        await waitFor('the daemon to exit', () => exited, 30000);
      }
      if (LOG_DIR) {
        fs.mkdirSync(LOG_DIR, { recursive: true });
        fs.copyFileSync(logPath, path.join(LOG_DIR, `web-${process.pid}-${name}-${index}.log`));
      }
      if (db) pgAdmin(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
      if (exited.code !== 0) throw new Error(`daemon exited with ${JSON.stringify(exited)}`);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// The first message in the outbox addressed to `to` (removed once read);
// waits for it.  Returns {headers, body} with quoted-printable undone.
export async function outboxTake(server, to, timeoutMs = 10000) {
  const dir = path.join(server.dataDir, 'outbox');
  return waitFor(`an e-mail to ${to}`, () => {
    let names = [];
    try {
      names = fs.readdirSync(dir).filter((n) => n.endsWith('.eml') && !n.startsWith('.')).sort();
    } catch {
      return null;
    }
    for (const n of names) {
      const text = fs.readFileSync(path.join(dir, n), 'utf8');
      const end = text.indexOf('\r\n\r\n');
      const headers = text.slice(0, end);
      if (!new RegExp(`^To: <?${to.replace(/[.+]/g, '\\$&')}>?\\r?$`, 'mi').test(headers)) continue;
      fs.unlinkSync(path.join(dir, n));
      let body = text.slice(end + 4);
      if (/Content-Transfer-Encoding: quoted-printable/i.test(headers)) {
        body = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (m, h) => String.fromCharCode(parseInt(h, 16)));
      } else if (/Content-Transfer-Encoding: base64/i.test(headers)) {
        body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
      }
      return { headers, body };
    }
    return null;
  }, timeoutMs);
}

// The link in an e-mail body that starts with prefix.
export function linkIn(mail, prefix) {
  const m = mail.body.match(/https?:\/\/\S+/g) || [];
  const link = m.find((l) => l.startsWith(prefix));
  if (!link) throw new Error(`no link starting with ${prefix} in:\n${mail.body}`);
  return link;
}

// JSON call straight to the API (for setting up what a test needs).
export async function apiCall(server, method, p, body, headers = {}) {
  const res = await fetch(server.url + p, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = null; }
  return { status: res.status, json, headers: res.headers, text };
}

// Pair a desktop device as the desktop app does (POST /api/client/pair).
export async function pairDevice(server, login, password, { name, vault, version = '1.4.2' }) {
  const r = await apiCall(server, 'POST', '/api/client/pair',
    { login, password, device_name: name, vault_id: vault, client_version: version });
  if (r.status !== 200) throw new Error(`pairing failed: ${r.status} ${r.text}`);
  noteSecret(r.json.device_token);
  return r.json;
}

export async function openBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--font-render-hinting=none'],
  });
}

// A browser context (cookies of its own) in a language, at a size, in a
// colour scheme.
export async function newContext(browser, { locale = 'en-US', width = 1200, height = 900, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ locale, viewport: { width, height }, colorScheme, reducedMotion: 'reduce' });
  // Record CSP violations from the page itself (they also reach the console).
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return context;
}

// Open a page with its problems recorded in page.problems: uncaught
// errors, console errors and CSP warnings, failed requests (other than
// those a navigation aborts).  Chromium
// logs every 4xx answer as a console error; those the test expects are
// allowed: page.allowedApiErrors counts API answers the page handles
// (a wrong password), gotoPage() allows the status it was asked for.
export async function newPage(context) {
  const page = await context.newPage();
  page.problems = [];
  page.allowedApiErrors = 0;
  page.on('pageerror', (e) => page.problems.push(`uncaught: ${e.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return;
    const text = msg.text();
    const where = msg.location()?.url || '';
    const apiError = /Failed to load resource: the server responded with a status of 4\d\d/.test(text) &&
      /\/api\//.test(where);
    // The page itself, when the test asked for its error status.
    if (page.expectedDocument && where === page.expectedDocument.url &&
        text.includes(`status of ${page.expectedDocument.status} `)) {
      page.expectedDocument = null;
      return;
    }
    if (apiError && page.allowedApiErrors > 0) {
      page.allowedApiErrors--;
      return;
    }
    if (msg.type() === 'warning' && !/Content.Security.Policy/i.test(text)) return;
    page.problems.push(`console ${msg.type()}: ${text} (${where})`);
  });
  page.on('requestfailed', (r) => {
    // A navigation cancels what the page it leaves was still loading.
    const why = r.failure()?.errorText;
    if (why !== 'net::ERR_ABORTED') page.problems.push(`request failed: ${r.url()} ${why}`);
  });
  return page;
}

// Go to url and wait for the page's start-up (page.js sets data-ready).
export async function gotoPage(page, url, { status } = {}) {
  page.expectedDocument = status >= 400 ? { url, status } : null;
  const res = await page.goto(url);
  if (status !== undefined && res.status() !== status) throw new Error(`${url}: HTTP ${res.status()}, wanted ${status}`);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 10000 });
  return res;
}

// Fail on anything recorded so far, and on serious or critical axe findings.
export async function checkPage(page, label) {
  const csp = await page.evaluate(() => window.__cspViolations || []);
  const problems = [...page.problems, ...csp.map((v) => `CSP violation: ${v}`)];
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
    }));
  });
  for (const v of result) {
    if (v.impact === 'serious' || v.impact === 'critical') {
      problems.push(`axe ${v.impact} ${v.id}: ${v.help} at ${v.nodes.join(', ')}`);
    }
  }
  page.problems = [];
  if (problems.length) throw new Error(`${label}:\n  ${problems.join('\n  ')}`);
}

export async function screenshot(page, name) {
  fs.mkdirSync(ARTEFACTS, { recursive: true });
  const file = path.join(ARTEFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
