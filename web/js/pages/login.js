// SPDX-License-Identifier: MIT
// Sign in: POST /api/v1/auth/login starts a cookie session, then the
// dashboard (or the page named by ?next=, if it is one of ours).
import { startPage } from '../page.js';
import { api } from '../api.js';
import { bindForm } from '../form.js';
import { pageUrl } from '../layout.js';

const NEXT_PAGES = new Set(['dashboard']);

startPage({
  init({ site }) {
    document.getElementById('register-hint').classList.toggle('hidden', !site.allow_registration);
    const next = new URLSearchParams(window.location.search).get('next');
    bindForm(document.getElementById('login-form'), async (v) => {
      await api('api/v1/auth/login', { method: 'POST', body: { username: v.username.trim(), password: v.password } });
      window.location.assign(pageUrl(NEXT_PAGES.has(next) ? next : 'dashboard'));
    });
  },
});
