// SPDX-License-Identifier: MIT
// The administrator's console (/admin) in real headless Chromium against
// the real daemon: sign in -> create a user -> block/unblock -> reset the
// password (the shown password works) -> delete; blob garbage collection
// from the storage page; the audit filter; a vault's own page; a list
// whose total is capped; an invitation with registration closed, used
// once.  Every console page
// (the vault page too) is checked for
// script errors, CSP violations and serious axe findings, and
// photographed (harness.mjs).

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, openBrowser, newContext, newPage, gotoPage, checkPage, screenshot, apiCall,
  pairDevice, noteSecret, waitFor,
} from './harness.mjs';

const ADMIN = { username: 'root-admin', password: 'console-Pa55-word' };
const USER_PASSWORD = 'user-Pa55-word-1';
noteSecret(USER_PASSWORD);

const en = JSON.parse(fs.readFileSync(new URL('../../web/i18n/en.json', import.meta.url), 'utf8'));

let browser;
before(async () => { browser = await openBrowser(); });
after(async () => { await browser?.close(); });

async function signIn(page, server) {
  page.allowedApiErrors = 1; // the console asks who is signed in: 401 before sign-in
  await gotoPage(page, `${server.url}/admin`);
  await page.waitForSelector('#admin-login-form');
  await checkPage(page, 'admin sign-in');
  await screenshot(page, 'admin-login');
  await page.fill('#admin-username', ADMIN.username);
  await page.fill('#admin-password', ADMIN.password);
  await page.click('#admin-login-form button[type="submit"]');
  await page.waitForSelector('#admin-app:not(.hidden)');
  await page.waitForSelector('html[data-ready="true"]');
}

// Open a section and wait until its view has rendered.
async function openSection(page, id, ready) {
  await page.evaluate((h) => { window.location.hash = h; }, id);
  await page.waitForSelector(`html[data-view="${id.split('/')[0]}"] #admin-view:not([aria-busy])`);
  if (ready) await page.waitForSelector(ready);
}

// Answer the password dialog the console opens for a dangerous action.
async function confirmWithPassword(page, password = ADMIN.password) {
  await page.waitForSelector('dialog[open] input[type="password"]');
  await page.fill('dialog[open] input[type="password"]', password);
  await page.click('dialog[open] button[type="submit"]');
  await page.waitForSelector('dialog[open]', { state: 'detached' });
}

// Create a confirmed user (name@example.test, USER_PASSWORD) from the
// users page and wait for its row.
async function createUser(page, name) {
  await openSection(page, 'users', '#create-user');
  await page.fill('#new-username', name);
  await page.fill('#new-email', `${name}@example.test`);
  await page.fill('#new-password', USER_PASSWORD);
  await page.click('#create-user button[type="submit"]');
  await page.waitForSelector(`#admin-view tbody tr:has-text("${name}")`);
}

async function userRow(page, name) {
  return page.locator('#admin-view tbody tr', { hasText: name });
}

describe('the console with registration open', () => {
  let server;
  before(async () => { server = await startServer({ name: 'admin', admin: ADMIN }); });
  after(async () => { await server?.stop(); });

  test('sign in, then every page: no errors, no serious axe finding', async () => {
    const ctx = await newContext(browser);
    const page = await newPage(ctx);
    await signIn(page, server);
    assert.equal(await page.textContent('#admin-heading'), en['admin.nav.overview']);
    await checkPage(page, 'overview');
    await screenshot(page, 'admin-overview');
    // The user pages' navigation is replaced by the console's.
    const links = await page.$$eval('.site-nav a', (as) => as.map((a) => a.getAttribute('href')));
    assert.ok(links.some((l) => l.endsWith('/admin#users')));
    for (const [id, ready] of [['users', '#create-user'], ['devices', 'form.filters'], ['vaults', 'form.filters'],
      ['storage', '#gc-count'], ['audit', 'form.filters'], ['settings', '#smtp-test'], ['admins', '#add-admin'],
      ['invitations', '#create-invitation']]) {
      await openSection(page, id, ready);
      await checkPage(page, id);
      await screenshot(page, `admin-${id}`);
    }
    // The diagnostics download holds nothing sensitive.
    await openSection(page, 'settings', '#diagnostics-download');
    const diag = await page.evaluate(async (u) => (await fetch(u)).text(),
      await page.getAttribute('#diagnostics-download', 'href'));
    assert.ok(!diag.includes(server.dataDir));
    assert.ok(!diag.includes('@'));
    // Phone width.
    await page.setViewportSize({ width: 390, height: 800 });
    await openSection(page, 'users', '#create-user');
    await checkPage(page, 'users at phone width');
    await screenshot(page, 'admin-users-phone');
    await ctx.close();
  });

  test('create, block, unblock, reset the password of and delete a user', async () => {
    const ctx = await newContext(browser);
    const page = await newPage(ctx);
    await signIn(page, server);
    await createUser(page, 'olga');
    assert.equal(await page.textContent('#admin-message'), en['admin.user_created'].replace('{name}', 'olga'));
    let login = await apiCall(server, 'POST', '/api/v1/auth/login', { username: 'olga', password: USER_PASSWORD });
    assert.equal(login.status, 200);
    await pairDevice(server, 'olga', USER_PASSWORD, { name: 'olga laptop', vault: 'notes' });

    // Block: a confirmation dialog asks for the administrator's password;
    // a wrong one keeps it open with the error.
    let row = await userRow(page, 'olga');
    await row.getByRole('button', { name: en['admin.block_named'].replace('{name}', 'olga') }).click();
    await page.waitForSelector('dialog[open]');
    await checkPage(page, 'block dialog');
    await screenshot(page, 'admin-confirm-dialog');
    page.allowedApiErrors = 1;
    await page.fill('dialog[open] input[type="password"]', 'not the password');
    await page.click('dialog[open] button[type="submit"]');
    await page.waitForSelector('dialog[open] .message.error');
    assert.equal(await page.textContent('dialog[open] .message.error'), en['error.code.password_confirmation_failed']);
    await page.fill('dialog[open] input[type="password"]', ADMIN.password);
    await page.click('dialog[open] button[type="submit"]');
    await page.waitForSelector('dialog[open]', { state: 'detached' });
    await page.waitForSelector(`#admin-view tbody tr:has-text("olga") .badge.warn`);
    login = await apiCall(server, 'POST', '/api/v1/auth/login', { username: 'olga', password: USER_PASSWORD });
    assert.equal(login.status, 403);

    row = await userRow(page, 'olga');
    await row.getByRole('button', { name: en['admin.unblock_named'].replace('{name}', 'olga') }).click();
    await confirmWithPassword(page);
    await page.waitForSelector(`#admin-view tbody tr:has-text("olga") .badge.ok`);

    // Reset: the new password is shown once, in the page, and works.
    row = await userRow(page, 'olga');
    await row.getByRole('button', { name: en['admin.reset_named'].replace('{name}', 'olga') }).click();
    await confirmWithPassword(page);
    await page.waitForSelector('.one-time output');
    const fresh = await page.textContent('.one-time output');
    noteSecret(fresh);
    assert.ok(fresh.length >= 16);
    assert.ok(!page.url().includes(fresh));
    await checkPage(page, 'new password shown');
    login = await apiCall(server, 'POST', '/api/v1/auth/login', { username: 'olga', password: fresh });
    assert.equal(login.status, 200);
    // Gone once the page is left.
    await openSection(page, 'overview');
    await openSection(page, 'users', '#create-user');
    assert.equal(await page.locator('.one-time').count(), 0);

    // Delete: the user and the device are gone.
    row = await userRow(page, 'olga');
    await row.getByRole('button', { name: en['admin.delete_named'].replace('{name}', 'olga') }).click();
    await confirmWithPassword(page);
    await waitFor('the row to go', async () => (await page.locator('#admin-view tbody tr', { hasText: 'olga' }).count()) === 0);
    login = await apiCall(server, 'POST', '/api/v1/auth/login', { username: 'olga', password: fresh });
    assert.equal(login.status, 401);
    await checkPage(page, 'after delete');
    await ctx.close();
  });

  test("a vault's page, from the vaults list", async () => {
    const ctx = await newContext(browser);
    const page = await newPage(ctx);
    await signIn(page, server);
    await createUser(page, 'vera');
    await pairDevice(server, 'vera', USER_PASSWORD, { name: 'vera desktop', vault: 'journal' });
    await openSection(page, 'vaults', 'form.filters');
    await page.click('#admin-view a[href^="#vault/"]:has-text("journal")');
    await page.waitForSelector('html[data-view="vault"] #admin-view:not([aria-busy]) a[href="#vaults"]');
    const text = await page.textContent('#admin-view');
    assert.ok(text.includes('vera desktop'));
    assert.ok(text.includes('journal'));
    await checkPage(page, 'vault');
    await screenshot(page, 'admin-vault');
    await ctx.close();
  });

  test('blob garbage collection from the storage page, dry run first', async () => {
    const content = Buffer.from('an orphan nobody refers to');
    const sha = crypto.createHash('sha256').update(content).digest('hex');
    const dir = path.join(server.dataDir, 'blobs', sha.slice(0, 2), sha.slice(2, 4));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, sha), content);

    const ctx = await newContext(browser);
    const page = await newPage(ctx);
    await signIn(page, server);
    await openSection(page, 'storage', '#gc-count');
    await page.click('#gc-count');
    await page.waitForSelector('#gc-run');
    assert.ok(fs.existsSync(path.join(dir, sha)), 'the dry run removes nothing');
    await page.click('#gc-run');
    await confirmWithPassword(page);
    await waitFor('the file to go', () => !fs.existsSync(path.join(dir, sha)));
    await page.waitForSelector('#admin-message.success');
    await checkPage(page, 'storage after gc');
    await screenshot(page, 'admin-storage-gc');
    await ctx.close();
  });

  test('the audit log filters by event', async () => {
    const ctx = await newContext(browser);
    const page = await newPage(ctx);
    await signIn(page, server);
    await openSection(page, 'audit', 'form.filters');
    await page.selectOption('#audit-event', 'admin_login');
    await page.click('form.filters button[type="submit"]');
    await waitFor('only sign-ins', async () => {
      const events = await page.$$eval('#admin-view tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent));
      return events.length > 0 && events.every((e) => e === en['admin.event.admin_login']);
    });
    await page.selectOption('#audit-severity', 'critical');
    await page.click('form.filters button[type="submit"]');
    await waitFor('no sign-in is critical', async () => (await page.locator('#admin-view tbody tr').count()) === 0);
    await checkPage(page, 'audit filtered');
    await screenshot(page, 'admin-audit-filtered');
    await ctx.close();
  });

  test('a capped total reads "10,000+" and leaves the next page open', async () => {
    const ctx = await newContext(browser);
    const page = await newPage(ctx);
    await signIn(page, server);
    await createUser(page, 'mira');
    // 10 050 devices of hers, written straight into the running daemon's
    // database (pairing them would take minutes).
    server.sql(
      "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 10049)"
      + " INSERT INTO server_devices (id, name, api_key, user_id, vault_id, created_at)"
      + " SELECT 'many' || i, 'tablet ' || i, 'many-key' || i,"
      + " (SELECT id FROM server_users WHERE username = 'mira'), 'shelf', '2026-01-01T00:00:00Z' FROM n");
    await openSection(page, 'devices', 'form.filters');
    await page.fill('#dev-user', 'mira');
    await page.click('form.filters button[type="submit"]');
    const pageText = (n) => en['admin.page_of_many'].replace('{page}', n).replace('{total}', '10,000');
    await waitFor('the capped total', async () => (await page.textContent('.pager [role="status"]')) === pageText('1'));
    assert.equal(await page.locator('#admin-view tbody tr').count(), 20);
    await checkPage(page, 'devices with a capped total');
    await screenshot(page, 'admin-devices-capped');
    await page.click(`.pager button:has-text("${en['admin.next']}")`);
    await waitFor('the second page', async () => (await page.textContent('.pager [role="status"]')) === pageText('2'));
    assert.ok(await page.isEnabled(`.pager button:has-text("${en['admin.next']}")`));
    await ctx.close();
  });
});

describe('invitations with registration closed', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'admin-closed', admin: ADMIN, config: 'web:\n  allow_registration: false\n' });
  });
  after(async () => { await server?.stop(); });

  test('an invitation opens the register page for one person, once', async () => {
    const ctx = await newContext(browser);
    const page = await newPage(ctx);
    await signIn(page, server);
    await openSection(page, 'invitations', '#create-invitation');
    await page.fill('#inv-email', 'pia@example.test');
    await page.click('#create-invitation button[type="submit"]');
    await page.waitForSelector('#invitation-link .one-time output');
    const link = await page.textContent('#invitation-link .one-time output');
    assert.ok(link.startsWith(`${server.url}/register?invitation=`));
    noteSecret(new URL(link).searchParams.get('invitation'));
    await checkPage(page, 'invitation created');
    await screenshot(page, 'admin-invitation');

    // Closed registration: no form without the invitation.
    const visitor = await newContext(browser);
    const reg = await newPage(visitor);
    await gotoPage(reg, `${server.url}/register`);
    assert.equal(await reg.locator('#register-form').count(), 0);
    // With it: the form, once.
    await gotoPage(reg, link);
    await reg.waitForSelector('#register-invited:not(.hidden)');
    await reg.fill('#username', 'pia');
    await reg.fill('#email', 'pia@example.test');
    await reg.fill('#password', USER_PASSWORD);
    await reg.fill('#password2', USER_PASSWORD);
    await reg.click('#register-form button[type="submit"]');
    await reg.waitForSelector('#register-done:not(.hidden)');
    await checkPage(reg, 'register with an invitation');
    await gotoPage(reg, link);
    reg.allowedApiErrors = 1;
    await reg.fill('#username', 'pia2');
    await reg.fill('#email', 'pia@example.test');
    await reg.fill('#password', USER_PASSWORD);
    await reg.fill('#password2', USER_PASSWORD);
    await reg.click('#register-form button[type="submit"]');
    await reg.waitForSelector('#register-form .message.error');
    assert.equal(await reg.textContent('#register-form .message.error'), en['error.code.invitation_invalid']);
    await checkPage(reg, 'invitation used');
    await visitor.close();

    await openSection(page, 'overview');
    await openSection(page, 'invitations', '#create-invitation');
    await page.waitForSelector('#admin-view tbody tr:has-text("pia@example.test") .badge.off');
    await ctx.close();
  });
});
