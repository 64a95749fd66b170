// SPDX-License-Identifier: MIT
// Home: what this server is, the URL to paste into the desktop app, and
// the way in (sign in, create an account, or the dashboard).
import { startPage } from '../page.js';
import { serverUrl, signedIn } from '../api.js';
import { t } from '../i18n.js';

startPage({
  init({ site }) {
    const url = serverUrl(site);
    document.getElementById('server-url').value = url;
    document.getElementById('server-url').textContent = url;
    const status = document.getElementById('copy-status');
    document.getElementById('copy-url').addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(url);
        status.textContent = t('common.copied');
      } catch {
        status.textContent = t('common.copy_failed');
      }
    });
    const inside = signedIn();
    document.getElementById('signed-in').classList.toggle('hidden', !inside);
    document.getElementById('signed-out').classList.toggle('hidden', inside);
    document.getElementById('register-link').classList.toggle('hidden', !site.allow_registration);
    document.getElementById('registration-closed').classList.toggle('hidden', site.allow_registration);
  },
});
