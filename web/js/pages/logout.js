// SPDX-License-Identifier: MIT
// Signed out.  The header's "Sign out" button ends the session and comes
// here; opening this page never signs anyone out by itself, but offers
// the button when a session is still there.
import { startPage } from '../page.js';
import { signedIn } from '../api.js';
import { signOut } from '../layout.js';

startPage({
  init() {
    if (!signedIn()) return;
    document.getElementById('logout-text').classList.add('hidden');
    document.getElementById('logout-still').classList.remove('hidden');
    document.getElementById('logout-button').addEventListener('click', signOut);
  },
});
