// SPDX-License-Identifier: MIT
// Create an account: POST /api/v1/auth/register, then "check your
// e-mail".  When registration is closed the form is not shown at all.
import { startPage } from '../page.js';
import { api } from '../api.js';
import { bindForm, requireSame } from '../form.js';
import { t } from '../i18n.js';

// Whether this visitor may register.  The hook for invitations: a visitor
// holding one may register even when registration is closed.
export function registrationAllowed(site) {
  return Boolean(site.allow_registration);
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
    requireSame(form.elements.password, form.elements.password_repeat, t('register.mismatch'));
    bindForm(form, async (v) => {
      await api('api/v1/auth/register', {
        method: 'POST', body: { username: v.username.trim(), email: v.email.trim(), password: v.password },
      });
      form.classList.add('hidden');
      const done = document.getElementById('register-done');
      done.classList.remove('hidden');
      done.focus();
    });
  },
});
