// SPDX-License-Identifier: MIT
// Create an account: POST /api/v1/auth/register, then "check your
// e-mail".  When registration is closed the form is not shown at all.
import { startPage } from '../page.js';
import { api } from '../api.js';
import { bindForm, requireSame } from '../form.js';
import { t } from '../i18n.js';

// The invitation this visitor holds (?invitation= of the link an
// administrator sent), or ''.
const invitation = new URLSearchParams(window.location.search).get('invitation') || '';

// Whether this visitor may register: registration is open, or they hold
// an invitation (the server checks it when the form is sent).
export function registrationAllowed(site) {
  return Boolean(site.allow_registration) || invitation !== '';
}

startPage({
  init({ site }) {
    const form = document.getElementById('register-form');
    if (!registrationAllowed(site)) {
      form.remove();
      document.getElementById('login-hint').classList.add('hidden');
      document.getElementById('register-closed').classList.remove('hidden');
      return;
    }
    if (invitation) document.getElementById('register-invited').classList.remove('hidden');
    requireSame(form.elements.password, form.elements.password_repeat, t('register.mismatch'));
    bindForm(form, async (v) => {
      await api('api/v1/auth/register', {
        method: 'POST',
        body: {
          username: v.username.trim(), email: v.email.trim(), password: v.password,
          invitation: invitation || undefined,
        },
      });
      form.classList.add('hidden');
      const done = document.getElementById('register-done');
      done.classList.remove('hidden');
      done.focus();
    });
  },
});
