// SPDX-License-Identifier: MIT
// The shared frame of every page: the header (server name, navigation,
// language switch) and the footer.  Pages pass their own navigation; the
// user pages use userNav().  Builds DOM nodes, never HTML strings.

import { LOCALES, currentLocale, setLocale, t } from './i18n.js';
import { api, root, signedIn } from './api.js';

// el('a', {href: 'x', class: 'y'}, 'text', child…)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// A link to a page of the web UI ("login", "" for home).
export function pageUrl(page) {
  return new URL(page, root).href;
}

// End the user session, then show the signed-out page.
export async function signOut() {
  try {
    await api('api/v1/auth/logout', { method: 'POST', body: {} });
  } finally {
    window.location.assign(pageUrl('logout'));
  }
}

// The navigation of the user pages: [{page, key} | {key, action}].
export function userNav(site) {
  if (signedIn()) {
    return [
      { page: '', key: 'nav.home' },
      { page: 'dashboard', key: 'nav.dashboard' },
      { key: 'nav.logout', action: signOut },
    ];
  }
  const items = [{ page: '', key: 'nav.home' }, { page: 'login', key: 'nav.login' }];
  if (site.allow_registration) items.push({ page: 'register', key: 'nav.register' });
  return items;
}

function currentPage() {
  const here = window.location.pathname;
  const base = root.pathname;
  return here.startsWith(base) ? here.slice(base.length) : here;
}

function languageSwitch() {
  const group = el('div', { class: 'lang-switch', role: 'group', 'aria-label': t('nav.language') });
  for (const [code, name] of Object.entries(LOCALES)) {
    const pressed = code === currentLocale();
    group.append(el('button', {
      type: 'button', lang: code, 'aria-pressed': pressed ? 'true' : 'false',
      'data-locale': code,
      onclick: () => {
        if (pressed) return;
        setLocale(code, root);
        window.location.reload();
      },
    }, name));
  }
  return group;
}

// Fill <header id="site-header"> and <footer id="site-footer">.
export function renderFrame(site, nav) {
  const header = document.getElementById('site-header');
  if (header) {
    const here = currentPage();
    const list = el('ul');
    for (const item of nav) {
      const label = t(item.key);
      if (item.action) {
        list.append(el('li', {}, el('button', { type: 'button', class: 'link', onclick: item.action }, label)));
      } else {
        list.append(el('li', {}, el('a', {
          href: pageUrl(item.page), 'aria-current': item.page === here ? 'page' : undefined,
        }, label)));
      }
    }
    header.replaceChildren(
      el('a', { class: 'brand', href: pageUrl('') },
        el('img', { src: pageUrl('favicon.svg'), alt: '' }), site.server_name),
      el('nav', { class: 'site-nav', 'aria-label': t('nav.main') }, list),
      languageSwitch(),
    );
  }
  const footer = document.getElementById('site-footer');
  if (footer) footer.replaceChildren(el('p', {}, t('footer.text')));
}
