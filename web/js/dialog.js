// SPDX-License-Identifier: MIT
// Modal dialogs on <dialog>: the browser keeps focus inside, Escape
// cancels, and focus returns to what opened it.  askPassword() asks for
// the account's password before a dangerous action and keeps the dialog
// open, with the error shown, until the action succeeds or is cancelled.

import { el } from './layout.js';
import { t } from './i18n.js';
import { bindForm } from './form.js';

let counter = 0;

// Open a dialog.  onConfirm(password) runs on submit; a throw keeps the
// dialog open with the error shown.  Resolves true once onConfirm
// succeeded, false when cancelled.
export function askPassword({ title, text, confirmLabel, danger = true, onConfirm }) {
  const id = `dlg-${++counter}`;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    let done = false;
    const password = el('input', {
      type: 'password', id: `${id}-pw`, name: 'password', autocomplete: 'current-password', required: true,
    });
    const cancel = el('button', { type: 'button', class: 'secondary', 'data-action': 'cancel' }, t('common.cancel'));
    const form = el('form', { method: 'dialog', novalidate: false },
      el('div', { class: 'message' }),
      el('div', { class: 'field' }, el('label', { for: `${id}-pw` }, t('dialog.password')), password),
      el('div', { class: 'actions' },
        el('button', { type: 'submit', class: danger ? 'danger' : '' }, confirmLabel),
        cancel));
    const dialog = el('dialog', { 'aria-labelledby': `${id}-title`, 'aria-describedby': `${id}-text` },
      el('h2', { id: `${id}-title` }, title),
      el('p', { id: `${id}-text` }, text),
      form);
    const finish = (ok) => {
      if (done) return;
      done = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      resolve(ok);
    };
    bindForm(form, async (values) => {
      await onConfirm(values.password);
      finish(true);
    });
    cancel.addEventListener('click', () => finish(false));
    dialog.addEventListener('close', () => finish(false));
    document.body.append(dialog);
    dialog.showModal();
    password.focus();
  });
}
