// SPDX-License-Identifier: MIT
// The signed-in user's page: the account (GET /api/v1/user/me), how to
// pair a desktop, and the devices (GET /api/v1/user/devices) with a
// filter and revocation behind the account's password (POST
// /api/v1/user/devices/{id}/revoke).  Without a session: the sign-in page.
import { startPage } from '../page.js';
import { api, ApiError, errorText, serverUrl } from '../api.js';
import { formatDate, t } from '../i18n.js';
import { el, pageUrl } from '../layout.js';
import { askPassword } from '../dialog.js';
import { showMessage } from '../form.js';

let devices = [];

function toLogin(err) {
  if (err instanceof ApiError && err.status === 401) {
    window.location.assign(`${pageUrl('login')}?next=dashboard`);
    return true;
  }
  return false;
}

function statusBadge(d) {
  return d.revoked_at
    ? el('span', { class: 'badge off' }, t('dashboard.state_revoked'))
    : el('span', { class: 'badge ok' }, t('dashboard.state_active'));
}

function matches(d, text, status) {
  if (status === 'active' && d.revoked_at) return false;
  if (status === 'revoked' && !d.revoked_at) return false;
  if (!text) return true;
  const hay = `${d.name}\n${d.vault_id}\n${d.client_version}`.toLocaleLowerCase();
  return hay.includes(text.toLocaleLowerCase());
}

function cell(labelKey, ...content) {
  return el('td', { 'data-label': t(labelKey) }, ...content);
}

async function revoke(d) {
  const ok = await askPassword({
    title: t('dashboard.revoke_title'),
    text: t('dashboard.revoke_text', { name: d.name }),
    confirmLabel: t('dashboard.revoke_confirm'),
    onConfirm: (password) => api(`api/v1/user/devices/${encodeURIComponent(d.id)}/revoke`,
      { method: 'POST', body: { password } }),
  });
  if (ok) {
    showMessage(document.getElementById('dashboard-message'), t('dashboard.revoked', { name: d.name }), 'success');
    await loadDevices();
  }
}

function render() {
  const text = document.getElementById('device-filter').value.trim();
  const status = document.getElementById('device-status').value;
  const shown = devices.filter((d) => matches(d, text, status));
  const body = document.getElementById('devices-body');
  body.replaceChildren(...shown.map((d) => el('tr', { class: d.revoked_at ? 'revoked' : '', 'data-device': d.id },
    cell('dashboard.col_name', d.name),
    cell('dashboard.col_vault', el('code', {}, d.vault_id)),
    cell('dashboard.col_version', d.client_version || '—'),
    cell('dashboard.col_created', formatDate(d.created_at)),
    cell('dashboard.col_last_seen', formatDate(d.last_seen)),
    cell('dashboard.col_status', el('span', {}, statusBadge(d), d.revoked_at ? ` ${formatDate(d.revoked_at)}` : '')),
    cell('dashboard.col_actions', d.revoked_at ? '' : el('button', {
      type: 'button', class: 'secondary', 'aria-label': t('dashboard.revoke_named', { name: d.name }),
      onclick: () => revoke(d),
    }, t('dashboard.revoke'))))));
  const summary = document.getElementById('devices-summary');
  if (devices.length === 0) summary.textContent = t('dashboard.no_devices');
  else summary.textContent = t('dashboard.shown', { shown: shown.length, total: devices.length });
}

async function loadDevices() {
  devices = await api('api/v1/user/devices');
  render();
}

startPage({
  async init({ site }) {
    document.getElementById('server-url').textContent = serverUrl(site);
    document.getElementById('device-filter').addEventListener('input', render);
    document.getElementById('device-status').addEventListener('change', render);
    try {
      const me = await api('api/v1/user/me');
      document.getElementById('acc-username').textContent = me.username;
      document.getElementById('acc-email').textContent = me.email;
      document.getElementById('acc-confirmed').replaceChildren(me.email_confirmed
        ? el('span', { class: 'badge ok' }, t('dashboard.confirmed'))
        : el('span', { class: 'badge warn' }, t('dashboard.unconfirmed')));
      document.getElementById('acc-created').textContent = formatDate(me.created_at, 'common.unknown');
      document.getElementById('account').removeAttribute('aria-busy');
      await loadDevices();
    } catch (err) {
      if (toLogin(err)) return;
      showMessage(document.getElementById('dashboard-message'), errorText(err));
    }
  },
});
