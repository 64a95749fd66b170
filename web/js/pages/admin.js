// SPDX-License-Identifier: MIT
// The administrator's console at /admin: its own sign-in (POST
// /admin/api/login, a session cookie scoped to /admin), then one view per
// section chosen by the address's #fragment.  Every view talks only to
// the console's JSON API (docs/admin.md); the views live in
// ../admin/views.js.  Without an administrator's session: the sign-in form.
import { startPage } from '../page.js';
import { ApiError, errorText } from '../api.js';
import { t } from '../i18n.js';
import { bindForm, showMessage, clearMessage } from '../form.js';
import { renderFrame } from '../layout.js';
import { call, SECTIONS, renderSection } from '../admin/views.js';

let signedInAs = null;

async function signOut() {
  try {
    await call('logout', { method: 'POST', body: {} });
  } finally {
    window.location.assign(window.location.pathname);
  }
}

function nav() {
  if (!signedInAs) return [{ page: '', key: 'nav.home' }];
  return [
    ...SECTIONS.filter((s) => !s.hidden).map((s) => ({ page: `admin#${s.id}`, key: `admin.nav.${s.id}` })),
    { key: 'nav.logout', action: signOut },
  ];
}

function showLogin() {
  document.getElementById('admin-app').classList.add('hidden');
  document.getElementById('admin-login').classList.remove('hidden');
  document.getElementById('admin-username').focus();
}

// Mark the current section in the navigation (the frame marks pages only).
function markNav(id) {
  for (const a of document.querySelectorAll('.site-nav a')) {
    const here = a.getAttribute('href').endsWith(`#${id}`);
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route() {
  const [id, ...args] = (window.location.hash.slice(1) || 'overview').split('/').map(decodeURIComponent);
  const section = SECTIONS.find((s) => s.id === id) || SECTIONS[0];
  const box = document.getElementById('admin-message');
  clearMessage(box);
  markNav(section.nav || section.id);
  const heading = document.getElementById('admin-heading');
  heading.textContent = t(`admin.nav.${section.nav || section.id}`);
  document.title = `${t(`admin.nav.${section.nav || section.id}`)} — ${t('admin.title')}`;
  const view = document.getElementById('admin-view');
  view.setAttribute('aria-busy', 'true');
  try {
    await renderSection(section, view, args, { self: signedInAs });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      signedInAs = null;
      showLogin();
      return;
    }
    showMessage(box, errorText(err));
  } finally {
    view.removeAttribute('aria-busy');
    document.documentElement.dataset.view = section.id;
  }
}

startPage({
  titleKey: 'admin.title',
  nav: () => nav(),
  async init({ site }) {
    try {
      signedInAs = (await call('me')).username;
      renderFrame(site, nav());
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) {
        showMessage(document.getElementById('admin-message'), errorText(err));
      }
    }
    bindForm(document.getElementById('admin-login-form'), async (v) => {
      await call('login', { method: 'POST', body: { username: v.username.trim(), password: v.password } });
      window.location.reload();
    });
    if (!signedInAs) {
      showLogin();
      return;
    }
    document.getElementById('admin-app').classList.remove('hidden');
    window.addEventListener('hashchange', () => route());
    await route();
  },
});
