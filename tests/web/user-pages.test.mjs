// SPDX-License-Identifier: MIT
// The user pages in real headless Chromium against the real daemon:
// register -> confirmation link from the outbox -> sign in -> dashboard ->
// revoke a device; forgot -> reset link -> the new password works;
// registration closed; language switch and negotiation; phone width; the
// 404 and unavailable pages.  Every page opened is checked for script
// errors, CSP violations and serious axe findings (harness.mjs).

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, openBrowser, newContext, newPage, gotoPage, checkPage, screenshot, outboxTake,
  linkIn, pairDevice, apiCall, noteSecret, waitFor,
} from './harness.mjs';

const ru = JSON.parse(fs.readFileSync(new URL('../../web/i18n/ru.json', import.meta.url), 'utf8'));
const en = JSON.parse(fs.readFileSync(new URL('../../web/i18n/en.json', import.meta.url), 'utf8'));

const PASSWORD = 'correct-Horse-7';
const NEW_PASSWORD = 'battery-Staple-9';
noteSecret(PASSWORD);
noteSecret(NEW_PASSWORD);

let browser;
before(async () => { browser = await openBrowser(); });
after(async () => { await browser?.close(); });

// Register through the page and confirm through the e-mailed link.
async function registerAndConfirm(server, page, { username, email }) {
  await gotoPage(page, `${server.url}/register`);
  await page.fill('#username', username);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.fill('#password2', PASSWORD);
  await page.click('#register-form button[type="submit"]');
  await page.waitForSelector('#register-done:not(.hidden)');
  await checkPage(page, 'register: done');

  const mail = await outboxTake(server, email);
  const link = linkIn(mail, `${server.url}/api/v1/auth/confirm?token=`);
  noteSecret(new URL(link).searchParams.get('token'));
  await gotoPage(page, link, { status: 200 });
  await checkPage(page, 'confirm page');
  await screenshot(page, 'confirm');
  await page.click('main form button[type="submit"]');
  await page.waitForURL(/confirm\?result=confirmed$/);
  await page.waitForSelector('html[data-ready="true"]');
  await checkPage(page, 'confirm: done');
  await page.click('main a.button');
  await page.waitForURL(/\/login$/);
  await page.waitForSelector('html[data-ready="true"]');
}

async function signIn(page, login, password) {
  await page.fill('#username', login);
  await page.fill('#password', password);
  await page.click('#login-form button[type="submit"]');
}

describe('with registration open', () => {
  let server;
  before(async () => { server = await startServer({ name: 'open' }); });
  after(async () => { await server?.stop(); });

  test('home page: what this is, the URL to paste, the way in', async () => {
    const ctx = await newContext(browser);
    const page = await newPage(ctx);
    await gotoPage(page, `${server.url}/`, { status: 200 });
    assert.equal(await page.textContent('h1'), en['home.heading']);
    assert.equal(await page.title(), `${en['home.title']} — Verstak Sync Server`);
    // No public_url configured: the page's own location.
    assert.equal(await page.textContent('#server-url'), server.url);
    assert.ok(await page.isVisible('#register-link'));
    assert.deepEqual(await page.$$eval('.site-nav a', (as) => as.map((a) => a.getAttribute('href'))),
      [`${server.url}/`, `${server.url}/login`, `${server.url}/register`]);
    await checkPage(page, 'home');
    await screenshot(page, 'home');
    await ctx.close();
  });

  test('register -> confirm -> sign in -> dashboard -> revoke a device -> sign out', async () => {
    const ctx = await newContext(browser);
    const page = await newPage(ctx);
    const email = 'alice@example.test';
    await gotoPage(page, `${server.url}/register`);
    await checkPage(page, 'register');
    await screenshot(page, 'register');

    // Mismatched passwords are stopped in the browser.
    await page.fill('#username', 'alice');
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await page.fill('#password2', `${PASSWORD}x`);
    await page.click('#register-form button[type="submit"]');
    assert.equal(await page.$eval('#password2', (i) => i.validity.customError), true);
    assert.ok(await page.isVisible('#register-form'));

    await registerAndConfirm(server, page, { username: 'alice', email });
    await checkPage(page, 'login');
    await screenshot(page, 'login');

    // A wrong password: a localised error, announced.
    page.allowedApiErrors = 1;
    await signIn(page, 'alice', 'not-the-password');
    await page.waitForSelector('#login-form .message.error');
    assert.equal(await page.textContent('#login-form .message'), en['error.msg.invalid_credentials']);
    assert.equal(await page.getAttribute('#login-form .message', 'role'), 'alert');
    await checkPage(page, 'login: wrong password');

    // Two devices paired by the desktop app.
    const laptop = await pairDevice(server, 'alice', PASSWORD, { name: 'Laptop', vault: 'notes' });
    const desk = await pairDevice(server, email, PASSWORD, { name: 'Desk PC', vault: 'work', version: '2.0.0' });

    await signIn(page, 'alice', PASSWORD);
    await page.waitForURL(/\/dashboard$/);
    await page.waitForSelector('html[data-ready="true"]');
    await page.waitForSelector('#devices-body tr');
    assert.equal(await page.textContent('#acc-username'), 'alice');
    assert.equal(await page.textContent('#acc-email'), email);
    assert.equal(await page.textContent('#acc-confirmed'), en['dashboard.confirmed']);
    assert.equal(await page.textContent('#server-url'), server.url);
    assert.equal(await page.locator('#devices-body tr').count(), 2);
    const row = page.locator(`#devices-body tr[data-device="${desk.device_id}"]`);
    assert.match(await row.textContent(), /Desk PC.*work.*2\.0\.0/);
    await checkPage(page, 'dashboard');
    await screenshot(page, 'dashboard');

    // The filter: by text, by status.
    await page.fill('#device-filter', 'desk');
    assert.equal(await page.locator('#devices-body tr').count(), 1);
    await page.fill('#device-filter', 'nothing like it');
    assert.equal(await page.locator('#devices-body tr').count(), 0);
    assert.equal(await page.textContent('#devices-summary'), en['dashboard.shown'].replace('{shown}', '0').replace('{total}', '2'));
    await page.fill('#device-filter', '');

    // Revoke the laptop, keyboard only: the dialog takes focus, a wrong
    // password keeps it open with the error, the right one revokes.
    await page.focus(`#devices-body tr[data-device="${laptop.device_id}"] button`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog[open]');
    assert.equal(await page.evaluate(() => document.activeElement.type), 'password');
    await checkPage(page, 'revoke dialog');
    await screenshot(page, 'revoke-dialog');
    page.allowedApiErrors = 1;
    await page.keyboard.type('wrong password');
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog .message.error');
    assert.equal(await page.textContent('dialog .message'), en['error.msg.wrong_password']);
    // Escape cancels and gives focus back to the button.
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog', { state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement.closest('tr')?.dataset.device), laptop.device_id);
    assert.equal((await apiCall(server, 'GET', '/api/client/me', undefined, { Authorization: `Bearer ${laptop.device_token}` })).status, 200);

    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog[open]');
    await page.fill('dialog input[type="password"]', PASSWORD);
    await page.click('dialog button[type="submit"]');
    await page.waitForSelector('dialog', { state: 'detached' });
    await page.waitForSelector(`#devices-body tr.revoked[data-device="${laptop.device_id}"]`);
    assert.match(await page.textContent('#dashboard-message'), /Laptop/);
    const me = await apiCall(server, 'GET', '/api/client/me', undefined, { Authorization: `Bearer ${laptop.device_token}` });
    assert.equal(me.status, 401);
    assert.equal((await apiCall(server, 'GET', '/api/client/me', undefined, { Authorization: `Bearer ${desk.device_token}` })).status, 200);
    await page.selectOption('#device-status', 'revoked');
    assert.equal(await page.locator('#devices-body tr').count(), 1);
    await checkPage(page, 'dashboard after revoke');

    // Sign out from the header.
    await page.click('.site-nav button');
    await page.waitForURL(/\/logout$/);
    await page.waitForSelector('html[data-ready="true"]');
    assert.ok(await page.isVisible('#logout-text'));
    await checkPage(page, 'logout');
    assert.equal((await ctx.cookies()).find((c) => c.name === 'user_session'), undefined);

    // The dashboard now sends the visitor to the sign-in page.
    page.allowedApiErrors = 1;
    await page.goto(`${server.url}/dashboard`);
    await page.waitForURL(/\/login\?next=dashboard$/);
    await page.waitForSelector('html[data-ready="true"]');
    await checkPage(page, 'login after sign-out');
    await ctx.close();
  });

  test('forgot -> reset link -> the new password works, the old does not', async () => {
    const ctx = await newContext(browser);
    const page = await newPage(ctx);
    const email = 'bob@example.test';
    await registerAndConfirm(server, page, { username: 'bob', email });

    await page.click('a[href="forgot"]');
    await page.waitForURL(/\/forgot$/);
    await page.waitForSelector('html[data-ready="true"]');
    await checkPage(page, 'forgot');
    await screenshot(page, 'forgot');
    await page.fill('#email', email);
    await page.click('#forgot-form button[type="submit"]');
    await page.waitForSelector('#forgot-done:not(.hidden)');
    await checkPage(page, 'forgot: done');

    const mail = await outboxTake(server, email);
    const link = linkIn(mail, `${server.url}/reset?token=`);
    noteSecret(new URL(link).searchParams.get('token'));
    await gotoPage(page, link, { status: 200 });
    await checkPage(page, 'reset page');
    await screenshot(page, 'reset');
    await page.fill('#np', NEW_PASSWORD);
    await page.fill('#npr', NEW_PASSWORD);
    await page.click('main form button[type="submit"]');
    await page.waitForURL(/reset\?result=ok$/);
    await page.waitForSelector('html[data-ready="true"]');
    await checkPage(page, 'reset: done');
    await page.click('main a.button');
    await page.waitForURL(/\/login$/);
    await page.waitForSelector('html[data-ready="true"]');

    page.allowedApiErrors = 1;
    await signIn(page, email, PASSWORD);
    await page.waitForSelector('#login-form .message.error');
    await signIn(page, email, NEW_PASSWORD);
    await page.waitForURL(/\/dashboard$/);
    await page.waitForSelector('#acc-username:not(:empty)');
    await waitFor('the account to load', async () => (await page.textContent('#acc-username')) === 'bob');
    await checkPage(page, 'dashboard after reset');
    await ctx.close();
  });

  test('language: switch, cookie, Accept-Language', async () => {
    const ctx = await newContext(browser, { locale: 'en-US' });
    const page = await newPage(ctx);
    await gotoPage(page, `${server.url}/login`);
    assert.equal(await page.textContent('h1'), en['login.heading']);
    assert.equal(await page.getAttribute('.lang-switch button[data-locale="en"]', 'aria-pressed'), 'true');
    await Promise.all([page.waitForEvent('load'), page.click('.lang-switch button[data-locale="ru"]')]);
    await page.waitForSelector('html[data-ready="true"]');
    assert.equal(await page.getAttribute('html', 'lang'), 'ru');
    assert.equal(await page.textContent('h1'), ru['login.heading']);
    assert.equal(await page.textContent('label[for="password"]'), ru['login.password']);
    const cookie = (await ctx.cookies()).find((c) => c.name === 'verstak_locale');
    assert.equal(cookie.value, 'ru');
    await checkPage(page, 'login in Russian');
    await screenshot(page, 'login-ru');

    // The choice holds on the server's own pages too.
    await gotoPage(page, `${server.url}/reset`, { status: 400 });
    assert.equal(await page.getAttribute('html', 'lang'), 'ru');
    await checkPage(page, 'reset page in Russian');
    // An API error in Russian.
    await gotoPage(page, `${server.url}/login`);
    page.allowedApiErrors = 1;
    await signIn(page, 'nobody', 'whatever-password');
    await page.waitForSelector('#login-form .message.error');
    assert.equal(await page.textContent('#login-form .message'), ru['error.msg.invalid_credentials']);
    await ctx.close();

    // No cookie: Accept-Language decides; dates follow the locale.
    const ruCtx = await newContext(browser, { locale: 'ru-RU' });
    const ruPage = await newPage(ruCtx);
    await gotoPage(ruPage, `${server.url}/`);
    assert.equal(await ruPage.textContent('h1'), ru['home.heading']);
    const date = await ruPage.evaluate(async () => (await import('/js/i18n.js')).formatDate('2026-03-05T10:20:00Z'));
    assert.match(date, /2026/);
    assert.match(date, /мар/);
    const size = await ruPage.evaluate(async () => (await import('/js/i18n.js')).formatSize(1536000));
    assert.equal(size, new Intl.NumberFormat('ru', { style: 'unit', unit: 'megabyte', unitDisplay: 'short', maximumFractionDigits: 1 }).format(1.5));
    await checkPage(ruPage, 'home in Russian');
    await ruCtx.close();
  });

  test('phone width (in Russian, dark): one column, nothing wider than the screen', async () => {
    const ctx = await newContext(browser, { locale: 'ru-RU', width: 375, height: 740, colorScheme: 'dark' });
    const page = await newPage(ctx);
    await gotoPage(page, `${server.url}/login`);
    await signIn(page, 'alice', PASSWORD);
    await page.waitForURL(/\/dashboard$/);
    await page.waitForSelector('#devices-body tr');
    for (const p of ['dashboard', '', 'login', 'register', 'forgot']) {
      if (p !== 'dashboard') await gotoPage(page, `${server.url}/${p}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `/${p} is ${overflow}px wider than the screen`);
      await checkPage(page, `/${p} at phone width`);
      if (p === 'dashboard') {
        // Table rows become cards: cells stacked, labelled.
        const display = await page.$eval('#devices-body td', (td) => getComputedStyle(td).display);
        assert.equal(display, 'grid');
        await screenshot(page, 'dashboard-phone-ru');
        // The dialog fits and passes in the dark scheme too.
        await page.click('#devices-body tr:not(.revoked) button');
        await page.waitForSelector('dialog[open]');
        const box = await page.$eval('dialog', (d) => d.getBoundingClientRect().right);
        assert.ok(box <= 375, `the dialog reaches ${box}px`);
        await checkPage(page, 'revoke dialog at phone width, dark');
        await page.keyboard.press('Escape');
        await page.waitForSelector('dialog', { state: 'detached' });
      }
    }
    await ctx.close();
  });

  test('404: localised, linking home', async () => {
    const ctx = await newContext(browser, { locale: 'ru-RU' });
    const page = await newPage(ctx);
    await gotoPage(page, `${server.url}/some/where/else`, { status: 404 });
    assert.equal(await page.textContent('h1'), ru['notfound.heading']);
    await checkPage(page, '404');
    await screenshot(page, 'not-found');
    await page.click('main a.button');
    await page.waitForURL(`${server.url}/`);
    await page.waitForSelector('html[data-ready="true"]');
    assert.equal(await page.textContent('h1'), ru['home.heading']);
    await ctx.close();
  });

  test('a degraded server says so on its home page', async () => {
    const blobs = path.join(server.dataDir, 'blobs');
    const aside = path.join(server.dataDir, 'blobs-aside');
    const ctx = await newContext(browser);
    const page = await newPage(ctx);
    fs.renameSync(blobs, aside);
    fs.writeFileSync(blobs, '');
    const health = async (status) =>
      (await fetch(`${server.url}/api/v1/health`)).status === status;
    try {
      // Health is probed in the background about once a second.
      await waitFor('degraded health', () => health(503));
      await gotoPage(page, `${server.url}/`, { status: 503 });
      assert.equal(await page.textContent('h1'), en['unavailable.heading']);
      await checkPage(page, 'unavailable');
      await screenshot(page, 'unavailable');
    } finally {
      fs.unlinkSync(blobs);
      fs.renameSync(aside, blobs);
    }
    await waitFor('healthy again', () => health(200));
    await ctx.close();
  });
});

describe('with registration closed and Russian as the default', () => {
  let server;
  before(async () => {
    server = await startServer({
      name: 'closed',
      config: 'public_url: https://sync.example.test\nweb:\n  allow_registration: false\n  default_locale: ru\n  server_name: Home Sync\n',
    });
  });
  after(async () => { await server?.stop(); });

  test('no way to register is offered, and the server refuses anyway', async () => {
    const ctx = await newContext(browser, { locale: 'de-DE' });
    const page = await newPage(ctx);
    await gotoPage(page, `${server.url}/`);
    // Neither cookie nor a language we have: web.default_locale.
    assert.equal(await page.getAttribute('html', 'lang'), 'ru');
    assert.equal(await page.title(), `${ru['home.title']} — Home Sync`);
    assert.equal(await page.textContent('#server-url'), 'https://sync.example.test');
    assert.equal(await page.isVisible('#register-link'), false);
    assert.ok(await page.isVisible('#registration-closed'));
    assert.equal(await page.locator('.site-nav a[href$="/register"]').count(), 0);
    await checkPage(page, 'home, registration closed');

    await gotoPage(page, `${server.url}/register`);
    assert.equal(await page.locator('#register-form').count(), 0);
    assert.ok(await page.isVisible('#register-closed'));
    await checkPage(page, 'register, closed');
    await gotoPage(page, `${server.url}/login`);
    assert.equal(await page.isVisible('#register-hint'), false);

    const r = await apiCall(server, 'POST', '/api/v1/auth/register', { username: 'eve', email: 'eve@example.test', password: PASSWORD });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'registration_disabled');
    await ctx.close();
  });
});
