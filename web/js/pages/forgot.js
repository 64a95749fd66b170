// SPDX-License-Identifier: MIT
// Forgot password: POST /api/v1/auth/forgot; the answer is the same
// whether or not the address has an account, and so is this page's.
import { startPage } from '../page.js';
import { api } from '../api.js';
import { bindForm } from '../form.js';

startPage({
  init() {
    const form = document.getElementById('forgot-form');
    bindForm(form, async (v) => {
      await api('api/v1/auth/forgot', { method: 'POST', body: { email: v.email.trim() } });
      form.classList.add('hidden');
      const done = document.getElementById('forgot-done');
      done.classList.remove('hidden');
      done.focus();
    });
  },
});
