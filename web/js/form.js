// SPDX-License-Identifier: MIT
// Forms that submit to the API: the browser's own validation first, the
// submit button disabled while the call runs, and the answer's error (in
// the reader's language) shown in the form's .message element, which is a
// live region so screen readers announce it.

import { errorText } from './api.js';

export function showMessage(box, text, kind = 'error') {
  if (!box) return;
  box.className = `message ${kind}`;
  box.textContent = text;
}

export function clearMessage(box) {
  if (!box) return;
  box.className = 'message';
  box.textContent = '';
}

// Call submit(values, form) on submit, values being the form's fields as
// an object.  A thrown error is shown in the form; focus moves to it.
export function bindForm(form, submit) {
  const box = form.querySelector('.message');
  if (box) {
    box.setAttribute('role', 'alert');
    box.setAttribute('tabindex', '-1');
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearMessage(box);
    if (!form.reportValidity()) return;
    const buttons = form.querySelectorAll('button[type="submit"]');
    buttons.forEach((b) => { b.disabled = true; });
    form.setAttribute('aria-busy', 'true');
    try {
      await submit(Object.fromEntries(new FormData(form)), form);
    } catch (err) {
      showMessage(box, errorText(err));
      box?.focus();
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      form.removeAttribute('aria-busy');
    }
  });
}

// Make confirm's validity depend on matching password (a new password
// typed twice).  message is shown by the browser when they differ.
export function requireSame(password, confirm, message) {
  const check = () => confirm.setCustomValidity(confirm.value && confirm.value !== password.value ? message : '');
  password.addEventListener('input', check);
  confirm.addEventListener('input', check);
}
