// SPDX-License-Identifier: MIT
// The console's sections (docs/admin.md): overview, users, devices,
// vaults (and one vault), storage, audit log, settings with diagnostics,
// administrators and invitations.  Each renders into the view element from
// the JSON API; lists are paged by the server.  Dangerous actions ask for
// the administrator's own password in a confirmation dialog.  A generated
// password or an invitation link is shown once, in the page only, and
// removed after a few minutes.
import { api, errorText, root } from '../api.js';
import { formatDate, formatNumber, formatSize, has, t } from '../i18n.js';
import { el } from '../layout.js';
import { askPassword } from '../dialog.js';
import { bindForm, showMessage } from '../form.js';

// How long a one-time secret stays on screen.
const SECRET_TTL_MS = 5 * 60 * 1000;
const PER_PAGE = 20;

export function call(path, opts = {}) {
  return api(`admin/api/${path}`, opts);
}

function message(text, kind = 'success') {
  showMessage(document.getElementById('admin-message'), text, kind);
}

function card(titleKey, ...children) {
  const id = `h-${titleKey.replace(/\W/g, '-')}`;
  return el('section', { class: 'card', 'aria-labelledby': id }, el('h2', { id }, t(titleKey)), ...children);
}

function field(id, labelKey, input) {
  input.id = id;
  return el('div', { class: 'field' }, el('label', { for: id }, t(labelKey)), input);
}

function select(name, options, value) {
  return el('select', { name },
    ...options.map(([v, key]) => el('option', { value: v, selected: v === value }, t(key))));
}

function details(pairs) {
  return el('dl', { class: 'details' }, ...pairs.flatMap(([key, value]) => [el('dt', {}, t(key)), el('dd', {}, value)]));
}

// A table whose cells carry their column's label (the phone layout).
function table(captionKey, columns, rows, cells) {
  return el('div', { class: 'table-wrap' }, el('table', { class: 'cards' },
    el('caption', { class: 'hidden' }, t(captionKey)),
    el('thead', {}, el('tr', {}, ...columns.map((c) => el('th', { scope: 'col' }, t(c))))),
    el('tbody', {}, ...rows.map((row) => el('tr', {},
      ...cells(row).map((content, i) => el('td', { 'data-label': t(columns[i]) }, content)))))));
}

// "Page 2 of 7" with previous/next, for an answer {total, page, per_page};
// a capped total (10 001, "10 000+") leaves the last page open.
function pager(total, page, perPage, go, capped = false) {
  const pages = capped ? Infinity : Math.max(1, Math.ceil(total / perPage));
  const text = capped
    ? t('admin.page_of_many', { page, total: formatNumber(total - 1) })
    : t('admin.page_of', { page, pages, total: formatNumber(total) });
  return el('nav', { class: 'actions pager', 'aria-label': t('admin.pages') },
    el('button', { type: 'button', class: 'secondary', disabled: page <= 1, onclick: () => go(page - 1) }, t('admin.previous')),
    el('span', { role: 'status' }, text),
    el('button', { type: 'button', class: 'secondary', disabled: page >= pages, onclick: () => go(page + 1) }, t('admin.next')));
}

function badge(kind, key) {
  return el('span', { class: `badge ${kind}` }, t(key));
}

function userState(u) {
  if (u.blocked) return badge('warn', 'admin.state_blocked');
  if (!u.confirmed) return badge('off', 'admin.state_unconfirmed');
  return badge('ok', 'admin.state_active');
}

function button(key, onclick, { danger = false, label } = {}) {
  return el('button', { type: 'button', class: danger ? 'danger' : 'secondary', 'aria-label': label, onclick }, t(key));
}

// The password dialog of a security-relevant action; true once done.
function confirmed(titleKey, text, run, vars = {}) {
  return askPassword({
    title: t(titleKey, vars), text, confirmLabel: t('admin.confirm'),
    onConfirm: (password) => run(password),
  });
}

// Show a one-time secret (a generated password, an invitation link) with
// a copy button; it disappears after SECRET_TTL_MS.
function oneTimeSecret(box, label, value) {
  const out = el('output', { class: 'code secret' }, value);
  const copy = el('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(value);
        message(t('common.copied'));
      } catch {
        message(t('common.copy_failed'), 'error');
      }
    },
  }, t('common.copy'));
  const node = el('div', { class: 'card one-time', role: 'status' },
    el('p', {}, label), el('div', { class: 'server-url' }, out, copy),
    el('p', { class: 'hint' }, t('admin.shown_once')));
  box.replaceChildren(node);
  setTimeout(() => node.remove(), SECRET_TTL_MS);
  return node;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

// A list section: filters (a form), the table, the pager; filters and page
// stay in the state object between renders.
function listView(view, { filters, load, render, state }) {
  const results = el('div');
  const form = el('form', { class: 'filters', role: 'search' }, ...filters, el('button', { type: 'submit' }, t('admin.apply')));
  const draw = async () => {
    const data = await load(state);
    results.replaceChildren(...render(data, async (page) => { state.page = page; await draw(); }));
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    Object.assign(state, Object.fromEntries(new FormData(form)), { page: 1 });
    try {
      await draw();
    } catch (err) {
      message(errorText(err), 'error');
    }
  });
  view.append(form, results);
  return draw;
}

// --- overview --------------------------------------------------------------

async function overview(view) {
  const data = await call('overview');
  const s = data.stats;
  const warnings = data.warnings.length
    ? el('ul', { class: 'warnings' }, ...data.warnings.map((w) => el('li', {}, t(`admin.warning.${w}`))))
    : el('p', { class: 'muted' }, t('admin.no_warnings'));
  view.replaceChildren(
    card('admin.warnings', warnings),
    el('div', { class: 'grid' },
      card('admin.users', details([
        ['admin.state_active', formatNumber(s.active_users)],
        ['admin.state_blocked', formatNumber(s.blocked_users)],
        ['admin.state_unconfirmed', formatNumber(s.unconfirmed_users)],
      ])),
      card('admin.devices', details([
        ['admin.state_active', formatNumber(s.active_devices)],
        ['admin.state_revoked', formatNumber(s.revoked_devices)],
        ['admin.vaults', formatNumber(s.vaults)],
      ])),
      card('admin.sync', details([
        ['admin.operations', formatNumber(s.operations)],
        ['admin.operations_24h', formatNumber(s.operations_24h)],
        ['admin.last_sync', formatDate(s.last_sync_activity)],
      ])),
      card('admin.nav.storage', details([
        ['admin.database_size', formatSize(s.database_bytes)],
        ['admin.blobs', `${formatNumber(s.blobs)} (${formatSize(s.blob_bytes)})`],
        ['admin.orphan_blobs', formatNumber(s.orphan_blobs)],
      ]))),
    card('admin.recent_audit', auditTable(data.audit)));
}

// --- users -------------------------------------------------------------------

// Filters and page survive switching sections.
const usersState = { q: '', status: 'all', sort: 'created_at', order: 'desc', page: 1 };
const devicesState = { user: '', vault_id: '', client_version: '', status: 'all', page: 1 };

async function editUser(u, redraw) {
  const opener = document.activeElement;
  const name = el('input', { type: 'text', name: 'username', required: true, maxlength: 64, value: u.username });
  const email = el('input', { type: 'email', name: 'email', required: true, maxlength: 254, value: u.email });
  const cancel = el('button', { type: 'button', class: 'secondary' }, t('common.cancel'));
  const form = el('form', {}, el('div', { class: 'message' }),
    field('edit-username', 'admin.username_field', name), field('edit-email', 'admin.email', email),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, t('admin.save')), cancel));
  const dialog = el('dialog', { 'aria-labelledby': 'edit-title' }, el('h2', { id: 'edit-title' }, t('admin.edit_title', { name: u.username })), form);
  const close = () => { dialog.close(); dialog.remove(); opener?.focus?.(); };
  cancel.addEventListener('click', close);
  dialog.addEventListener('close', () => dialog.remove());
  bindForm(form, async (v) => {
    await call(`users/${encodeURIComponent(u.id)}/edit`, { method: 'POST', body: { username: v.username, email: v.email } });
    close();
    message(t('admin.saved'));
    await redraw();
  });
  document.body.append(dialog);
  dialog.showModal();
  name.focus();
}

async function users(view) {
  const state = usersState;
  const reveal = el('div');
  const create = el('form', { class: 'card', id: 'create-user' },
    el('h2', {}, t('admin.create_user')), el('div', { class: 'message' }),
    field('new-username', 'admin.username_field', el('input', { type: 'text', name: 'username', required: true, maxlength: 64, autocomplete: 'off' })),
    field('new-email', 'admin.email', el('input', { type: 'email', name: 'email', required: true, maxlength: 254, autocomplete: 'off' })),
    field('new-password', 'admin.initial_password', el('input', { type: 'password', name: 'password', required: true, minlength: 8, maxlength: 256, autocomplete: 'new-password' })),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, t('admin.create'))));
  view.replaceChildren(reveal);
  let draw;
  const act = (u) => {
    const id = encodeURIComponent(u.id);
    const name = { name: u.username };
    const done = async (key) => { message(t(key, name)); await draw(); };
    const actions = [button('admin.edit', () => editUser(u, draw), { label: t('admin.edit_named', name) })];
    if (!u.confirmed) {
      actions.push(button('admin.confirm_user', async () => {
        if (await confirmed('admin.confirm_user_title', t('admin.confirm_user_text', name),
          (pw) => call(`users/${id}/confirm`, { method: 'POST', body: { admin_password: pw } }), name)) await done('admin.user_confirmed');
      }, { label: t('admin.confirm_user_named', name) }));
    }
    const block = !u.blocked;
    actions.push(button(block ? 'admin.block' : 'admin.unblock', async () => {
      if (await confirmed(block ? 'admin.block_title' : 'admin.unblock_title', t(block ? 'admin.block_text' : 'admin.unblock_text', name),
        (pw) => call(`users/${id}/block`, { method: 'POST', body: { blocked: block, admin_password: pw } }), name)) {
        await done(block ? 'admin.user_blocked' : 'admin.user_unblocked');
      }
    }, { label: t(block ? 'admin.block_named' : 'admin.unblock_named', name) }));
    actions.push(button('admin.reset_password', async () => {
      let fresh = null;
      if (await confirmed('admin.reset_title', t('admin.reset_text', name), async (pw) => {
        fresh = (await call(`users/${id}/reset-password`, { method: 'POST', body: { admin_password: pw } })).new_password;
      }, name)) {
        oneTimeSecret(reveal, t('admin.new_password_for', name), fresh);
        fresh = null;
        reveal.querySelector('button')?.focus();
      }
    }, { label: t('admin.reset_named', name) }));
    actions.push(button('admin.delete', async () => {
      if (await confirmed('admin.delete_user_title', t('admin.delete_user_text', name),
        (pw) => call(`users/${id}`, { method: 'DELETE', body: { admin_password: pw } }), name)) await done('admin.user_deleted');
    }, { danger: true, label: t('admin.delete_named', name) }));
    return el('div', { class: 'row-actions' }, ...actions);
  };
  draw = listView(view, {
    state,
    filters: [
      field('user-q', 'admin.search', el('input', { type: 'search', name: 'q', value: state.q, maxlength: 256 })),
      field('user-status', 'admin.status', select('status', [['all', 'admin.all'], ['active', 'admin.state_active'], ['blocked', 'admin.state_blocked'], ['unconfirmed', 'admin.state_unconfirmed']], state.status)),
      field('user-sort', 'admin.sort', select('sort', [['created_at', 'admin.col_created'], ['username', 'admin.col_username'], ['email', 'admin.email'], ['last_seen', 'admin.col_last_seen']], state.sort)),
      field('user-order', 'admin.order', select('order', [['desc', 'admin.desc'], ['asc', 'admin.asc']], state.order)),
    ],
    load: (s) => call(`users${query({ q: s.q, status: s.status, sort: s.sort, order: s.order, page: s.page, per_page: PER_PAGE })}`),
    render: (data, go) => [
      table('admin.users', ['admin.col_username', 'admin.email', 'admin.status', 'admin.devices', 'admin.col_created', 'admin.col_last_seen', 'admin.actions'],
        data.users, (u) => [u.username, u.email, userState(u), formatNumber(u.devices), formatDate(u.created_at), formatDate(u.last_seen), act(u)]),
      pager(data.total, data.page, data.per_page, go, data.total_capped),
    ],
  });
  view.append(create);
  bindForm(create, async (v, form) => {
    await call('users/create', { method: 'POST', body: { username: v.username, email: v.email, password: v.password } });
    form.reset();
    message(t('admin.user_created', { name: v.username }));
    await draw();
  });
  await draw();
}

// --- devices -------------------------------------------------------------------

async function devices(view) {
  const state = devicesState;
  view.replaceChildren();
  let draw;
  const act = (d) => {
    const id = encodeURIComponent(d.id);
    const name = { name: d.name };
    if (!d.revoked_at) {
      return button('admin.revoke', async () => {
        if (await confirmed('admin.revoke_title', t('admin.revoke_text', name),
          (pw) => call(`devices/${id}/revoke`, { method: 'POST', body: { admin_password: pw } }), name)) {
          message(t('admin.device_revoked', name));
          await draw();
        }
      }, { label: t('admin.revoke_named', name) });
    }
    return button('admin.delete', async () => {
      if (await confirmed('admin.delete_device_title', t('admin.delete_device_text', name),
        (pw) => call(`devices/${id}`, { method: 'DELETE', body: { admin_password: pw } }), name)) {
        message(t('admin.device_deleted', name));
        await draw();
      }
    }, { danger: true, label: t('admin.delete_named', name) });
  };
  draw = listView(view, {
    state,
    filters: [
      field('dev-user', 'admin.user', el('input', { type: 'text', name: 'user', value: state.user, maxlength: 256 })),
      field('dev-vault', 'admin.vault', el('input', { type: 'text', name: 'vault_id', value: state.vault_id, maxlength: 256 })),
      field('dev-version', 'admin.client_version', el('input', { type: 'text', name: 'client_version', value: state.client_version, maxlength: 256 })),
      field('dev-status', 'admin.status', select('status', [['all', 'admin.all'], ['active', 'admin.state_active'], ['revoked', 'admin.state_revoked']], state.status)),
    ],
    load: async (s) => {
      const res = await fetchWithTotal(`devices${query({ user: s.user, vault_id: s.vault_id, client_version: s.client_version, status: s.status, page: s.page, per_page: PER_PAGE })}`);
      return { ...res, page: s.page };
    },
    render: (data, go) => [
      table('admin.devices', ['admin.col_name', 'admin.user', 'admin.vault', 'admin.client_version', 'admin.col_created', 'admin.col_last_seen', 'admin.status', 'admin.token', 'admin.actions'],
        data.rows, (d) => [d.name, d.user, el('code', {}, d.vault_id || ''), d.client_version || '—', formatDate(d.created_at), formatDate(d.last_seen),
          d.revoked_at ? badge('off', 'admin.state_revoked') : badge('ok', 'admin.state_active'), el('code', {}, d.token_hint), act(d)]),
      pager(data.total, data.page, PER_PAGE, go, data.total_capped),
    ],
  });
  await draw();
}

// devices and keys answer a bare array; every list carries its total in
// the headers X-Total-Count and X-Total-Capped.
async function fetchWithTotal(path) {
  const res = await fetch(new URL(`admin/api/${path}`, root), {
    headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store',
  });
  if (!res.ok) return call(path); // the same request through api(), for its error
  return {
    rows: await res.json(),
    total: Number(res.headers.get('X-Total-Count')) || 0,
    total_capped: res.headers.get('X-Total-Capped') === 'true',
  };
}

// --- vaults ----------------------------------------------------------------------

function vaultLink(v) {
  return el('a', { href: `#vault/${encodeURIComponent(v.user_id)}/${encodeURIComponent(v.vault_id)}` }, v.vault_id);
}

async function vaults(view) {
  const state = { user_id: '', page: 1 };
  view.replaceChildren();
  const draw = listView(view, {
    state,
    filters: [field('vault-user', 'admin.user_id', el('input', { type: 'text', name: 'user_id', maxlength: 64 }))],
    load: (s) => call(`vaults${query({ user_id: s.user_id, page: s.page, per_page: PER_PAGE })}`),
    render: (data, go) => [
      table('admin.vaults', ['admin.user', 'admin.vault', 'admin.devices', 'admin.operations', 'admin.highest_sequence', 'admin.blobs', 'admin.last_activity'],
        data.vaults, (v) => [v.username, vaultLink(v), `${formatNumber(v.active_devices)} / ${formatNumber(v.devices)}`, formatNumber(v.ops),
          formatNumber(v.highest_sequence), `${formatNumber(v.blobs)} (${formatSize(v.blob_bytes)})`, formatDate(v.last_activity)]),
      pager(data.total, data.page, data.per_page, go, data.total_capped),
    ],
  });
  await draw();
}

async function vault(view, [userId, vaultId]) {
  const data = await call(`vaults/${encodeURIComponent(userId || '')}/${encodeURIComponent(vaultId || '')}`);
  const v = data.vault;
  view.replaceChildren(
    el('p', {}, el('a', { href: '#vaults' }, t('admin.back_to_vaults'))),
    card('admin.vault_details', details([
      ['admin.user', v.username], ['admin.vault', el('code', {}, v.vault_id)],
      ['admin.devices', `${formatNumber(v.active_devices)} / ${formatNumber(v.devices)}`],
      ['admin.operations', formatNumber(v.ops)], ['admin.highest_sequence', formatNumber(v.highest_sequence)],
      ['admin.blobs', `${formatNumber(v.blobs)} (${formatSize(v.blob_bytes)})`], ['admin.last_activity', formatDate(v.last_activity)],
    ])),
    card('admin.devices', table('admin.devices', ['admin.col_name', 'admin.client_version', 'admin.col_last_seen', 'admin.status'],
      data.devices, (d) => [d.name, d.client_version || '—', formatDate(d.last_seen),
        d.revoked_at ? badge('off', 'admin.state_revoked') : badge('ok', 'admin.state_active')])));
}

// --- storage -------------------------------------------------------------------------

async function storage(view) {
  const s = await call('storage');
  const gcBox = el('div', { role: 'status' });
  const count = el('button', { type: 'button', id: 'gc-count' }, t('admin.gc_count'));
  count.addEventListener('click', async () => {
    try {
      const dry = await call('storage/gc', { method: 'POST', body: { dry_run: true } });
      const run = button('admin.gc_run', async () => {
        let result = null;
        if (await confirmed('admin.gc_title', t('admin.gc_text', { files: formatNumber(dry.orphan_files) }), async (pw) => {
          result = await call('storage/gc', { method: 'POST', body: { dry_run: false, admin_password: pw } });
        })) {
          message(t('admin.gc_done', { files: formatNumber(result.files_removed), size: formatSize(result.bytes_freed) }));
          await storage(view);
        }
      }, { danger: true });
      run.id = 'gc-run';
      gcBox.replaceChildren(el('p', {}, t('admin.gc_found', { files: formatNumber(dry.orphan_files), size: formatSize(dry.orphan_bytes) })),
        dry.orphan_files > 0 ? run : '');
    } catch (err) {
      message(errorText(err), 'error');
    }
  });
  const retention = el('button', { type: 'button', class: 'secondary', id: 'retention-run' }, t('admin.retention_run'));
  retention.addEventListener('click', async () => {
    try {
      await call('storage/retention', { method: 'POST', body: {} });
      message(t('admin.retention_done'));
      await storage(view);
    } catch (err) {
      message(errorText(err), 'error');
    }
  });
  view.replaceChildren(
    card('admin.nav.storage', details([
      ['admin.database_size', formatSize(s.database_bytes)],
      ['admin.blobs', `${formatNumber(s.blobs)} (${formatSize(s.blob_bytes)})`],
      ['admin.blob_references', formatNumber(s.blob_references)],
      ['admin.orphan_blobs', formatNumber(s.orphan_blobs)],
      ['admin.temp_uploads', `${formatNumber(s.temp_uploads)} (${formatSize(s.temp_upload_bytes)})`],
      ['admin.expired_sessions', formatNumber(s.expired_sessions)],
      ['admin.expired_tokens', formatNumber(s.expired_email_tokens)],
      ['admin.last_cleanup', formatDate(s.last_cleanup_at)],
    ])),
    card('admin.retention', el('p', {}, t('admin.retention_text', { days: s.retention.audit_days, hours: s.retention.temp_upload_hours })),
      el('div', { class: 'actions' }, retention)),
    card('admin.gc', el('p', {}, t('admin.gc_intro')), el('div', { class: 'actions' }, count), gcBox));
}

// --- audit log ------------------------------------------------------------------------

function eventName(e) {
  return has(`admin.event.${e}`) ? t(`admin.event.${e}`) : e;
}

function auditTable(entries) {
  return table('admin.nav.audit', ['admin.col_time', 'admin.col_event', 'admin.user', 'admin.col_device', 'admin.col_ip', 'admin.col_message'],
    entries, (a) => [formatDate(a.created_at), eventName(a.event), a.username || a.user_id || '—', a.device_id ? el('code', {}, a.device_id) : '—', a.ip || '—', a.message || '']);
}

async function audit(view) {
  const { events } = await call('audit/events');
  const state = { event: '', severity: '', user_id: '', device_id: '', from: '', to: '', page: 1 };
  view.replaceChildren();
  const draw = listView(view, {
    state,
    filters: [
      field('audit-event', 'admin.col_event', select('event', [['', 'admin.all'], ...events.map((e) => [e.event, `admin.event.${e.event}`])], '')),
      field('audit-severity', 'admin.severity', select('severity', [['', 'admin.all'], ['info', 'admin.severity_info'], ['warning', 'admin.severity_warning'], ['critical', 'admin.severity_critical']], '')),
      field('audit-user', 'admin.user_id', el('input', { type: 'text', name: 'user_id', maxlength: 64 })),
      field('audit-device', 'admin.col_device', el('input', { type: 'text', name: 'device_id', maxlength: 64 })),
      field('audit-from', 'admin.from', el('input', { type: 'date', name: 'from' })),
      field('audit-to', 'admin.to', el('input', { type: 'date', name: 'to' })),
    ],
    load: (s) => call(`audit${query({ event: s.event, severity: s.severity, user_id: s.user_id, device_id: s.device_id, from: s.from, to: s.to, page: s.page, per_page: PER_PAGE })}`),
    render: (data, go) => [auditTable(data.entries), pager(data.total, data.page, data.per_page, go, data.total_capped)],
  });
  await draw();
}

// --- settings and diagnostics -----------------------------------------------------------

function valueText(v) {
  if (v === null || v === undefined) return t('admin.unset');
  if (v === true) return t('admin.yes');
  if (v === false) return t('admin.no');
  return String(v);
}

async function settings(view) {
  const s = await call('settings');
  const smtpRows = Object.entries(s.smtp).filter(([k]) => k !== 'delivery');
  const test = el('form', { id: 'smtp-test' }, el('div', { class: 'message' }),
    field('smtp-to', 'admin.test_to', el('input', { type: 'email', name: 'to', required: true, maxlength: 254 })),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, t('admin.send_test'))));
  bindForm(test, async (v) => {
    await call('smtp/test', { method: 'POST', body: { to: v.to } });
    message(t('admin.test_sent', { to: v.to }));
  });
  view.replaceChildren(
    card('admin.server', details([
      ['admin.server_name', s.server_name], ['admin.public_url', valueText(s.public_url)],
      ['admin.registration', valueText(s.allow_registration)], ['admin.default_locale', s.default_locale],
      ['admin.trusted_proxies', s.trusted_proxies.length ? s.trusted_proxies.join(', ') : t('admin.none')],
      ['admin.synchronous', s.database_synchronous],
    ])),
    card('admin.limits', details(Object.entries(s.limits).map(([k, v]) => [`admin.limit.${k}`, formatNumber(v)]))),
    card('admin.smtp', el('p', {}, t(`admin.delivery_${s.smtp.delivery}`)),
      table('admin.smtp', ['admin.setting', 'admin.value', 'admin.source'], smtpRows,
        ([k, v]) => [t(`admin.smtp.${k}`), valueText(v.value), t(`admin.source_${v.source}`)]),
      el('p', { class: 'hint' }, t('admin.smtp_hint')), test),
    card('admin.diagnostics', el('p', {}, t('admin.diagnostics_text')),
      el('a', { class: 'button', id: 'diagnostics-download', href: new URL('admin/api/diagnostics?download=1', root).href, download: 'verstak-diagnostics.json' }, t('admin.diagnostics_download'))));
}

// --- administrators ---------------------------------------------------------------------

async function admins(view, args, ctx) {
  const data = await call('admins');
  const add = el('form', { class: 'card', id: 'add-admin' }, el('h2', {}, t('admin.add_admin')), el('div', { class: 'message' }),
    field('admin-new-name', 'admin.username', el('input', { type: 'text', name: 'username', required: true, maxlength: 64, autocomplete: 'off' })),
    field('admin-new-password', 'admin.password', el('input', { type: 'password', name: 'password', required: true, minlength: 8, maxlength: 256, autocomplete: 'new-password' })),
    field('admin-add-confirm', 'admin.your_password', el('input', { type: 'password', name: 'admin_password', required: true, maxlength: 256, autocomplete: 'current-password' })),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, t('admin.add'))));
  bindForm(add, async (v) => {
    await call('admins', { method: 'POST', body: v });
    message(t('admin.admin_added', { name: v.username }));
    await admins(view, args, ctx);
  });
  const own = el('form', { class: 'card', id: 'own-password' }, el('h2', {}, t('admin.change_password')), el('div', { class: 'message' }),
    field('own-current', 'admin.current_password', el('input', { type: 'password', name: 'admin_password', required: true, maxlength: 256, autocomplete: 'current-password' })),
    field('own-new', 'admin.new_password', el('input', { type: 'password', name: 'new_password', required: true, minlength: 8, maxlength: 256, autocomplete: 'new-password' })),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, t('admin.save'))));
  bindForm(own, async (v, form) => {
    await call('admins/password', { method: 'POST', body: v });
    form.reset();
    message(t('admin.password_changed'));
  });
  const last = data.admins.length <= 1;
  view.replaceChildren(
    card('admin.nav.admins', table('admin.nav.admins', ['admin.username', 'admin.col_created', 'admin.last_login', 'admin.actions'], data.admins,
      (a) => [a.username, formatDate(a.created_at), formatDate(a.last_login),
        a.id === data.self_id ? el('span', { class: 'muted' }, t('admin.you'))
          : button('admin.remove', async () => {
            if (await confirmed('admin.remove_title', t('admin.remove_text', { name: a.username }),
              (pw) => call(`admins/${encodeURIComponent(a.id)}`, { method: 'DELETE', body: { admin_password: pw } }), { name: a.username })) {
              message(t('admin.admin_removed', { name: a.username }));
              await admins(view, args, ctx);
            }
          }, { danger: true, label: t('admin.remove_named', { name: a.username }) })]),
    last ? el('p', { class: 'hint' }, t('admin.last_admin')) : ''),
    add, own);
}

// --- invitations ------------------------------------------------------------------------

async function invitations(view) {
  const data = await call('invitations?per_page=100');
  const reveal = el('div');
  const form = el('form', { class: 'card', id: 'create-invitation' }, el('h2', {}, t('admin.create_invitation')), el('div', { class: 'message' }),
    field('inv-email', 'admin.invitation_email', el('input', { type: 'email', name: 'email', maxlength: 254 })),
    field('inv-hours', 'admin.invitation_hours', el('input', { type: 'number', name: 'hours', min: 1, max: 720, value: 72, required: true })),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, t('admin.create'))));
  bindForm(form, async (v) => {
    const inv = await call('invitations', { method: 'POST', body: { email: v.email || undefined, hours: Number(v.hours) } });
    await invitations(view);
    const link = inv.url || `${new URL('register', root).href}?invitation=${inv.token}`;
    oneTimeSecret(view.querySelector('#invitation-link'), t('admin.invitation_link'), link);
  });
  const status = (i) => {
    if (i.used_at) return badge('off', 'admin.invitation_used');
    if (new Date(i.expires_at) <= new Date()) return badge('warn', 'admin.invitation_expired');
    return badge('ok', 'admin.invitation_open');
  };
  reveal.id = 'invitation-link';
  view.replaceChildren(
    el('p', { class: 'lead' }, t('admin.invitations_intro')), reveal, form,
    card('admin.nav.invitations', table('admin.nav.invitations', ['admin.email', 'admin.col_created', 'admin.expires', 'admin.status', 'admin.used_by', 'admin.actions'], data.invitations,
      (i) => [i.email || t('admin.anyone'), formatDate(i.created_at), formatDate(i.expires_at), status(i), i.used_by || '—',
        i.used_at ? '' : button('admin.withdraw', async () => {
          try {
            await call(`invitations/${encodeURIComponent(i.id)}`, { method: 'DELETE' });
            message(t('admin.invitation_withdrawn'));
            await invitations(view);
          } catch (err) {
            message(errorText(err), 'error');
          }
        })])));
}

export const SECTIONS = [
  { id: 'overview', render: overview },
  { id: 'users', render: users },
  { id: 'devices', render: devices },
  { id: 'vaults', render: vaults },
  { id: 'vault', render: vault, hidden: true, nav: 'vaults' },
  { id: 'storage', render: storage },
  { id: 'audit', render: audit },
  { id: 'settings', render: settings },
  { id: 'admins', render: admins },
  { id: 'invitations', render: invitations },
];

export async function renderSection(section, view, args, ctx) {
  view.replaceChildren(el('p', { class: 'muted' }, t('admin.loading')));
  await section.render(view, args, ctx);
}
