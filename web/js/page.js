// SPDX-License-Identifier: MIT
// Start-up shared by every page: ask the server who we are talking to
// (GET /api/v1/site), load the reader's catalog, translate the static
// text, draw the header and footer, then run the page's own code.  The
// HTML carries English text, so a page is readable before this finishes.

import { loadSite } from './api.js';
import { loadLocale, t, translate } from './i18n.js';
import { renderFrame, userNav } from './layout.js';

// titleKey: catalog key of the page's title (default: <html data-title>); nav(site): its navigation
// (default: the user pages'); init({site}): the page's own code.
export async function startPage({ titleKey, nav = userNav, init } = {}) {
  const site = await loadSite();
  try {
    await loadLocale(site.locale);
  } catch {
    await loadLocale('en');
  }
  translate(document);
  titleKey = titleKey || document.documentElement.dataset.title;
  if (titleKey) document.title = `${t(titleKey)} — ${site.server_name}`;
  renderFrame(site, nav(site));
  if (init) await init({ site });
  document.documentElement.dataset.ready = 'true';
  return site;
}
