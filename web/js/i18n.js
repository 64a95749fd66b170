// SPDX-License-Identifier: MIT
// Texts and formats in the reader's language: loads one catalog
// (i18n/<locale>.json), translates elements marked data-i18n (text) and
// data-i18n-attr ("attr:key;attr:key"), and formats dates and sizes with
// Intl for that locale.  The locale itself is chosen by the server
// (verstak_locale cookie, Accept-Language, web.default_locale) and arrives
// with GET /api/v1/site; setLocale() records a visitor's explicit choice.

export const LOCALES = { en: 'English', ru: 'Русский' };
export const LOCALE_COOKIE = 'verstak_locale';

let locale = 'en';
let catalog = {};

export function currentLocale() {
  return locale;
}

// Load the catalog of loc (falls back to English for an unknown one).
export async function loadLocale(loc) {
  locale = Object.hasOwn(LOCALES, loc) ? loc : 'en';
  const res = await fetch(new URL(`../i18n/${locale}.json`, import.meta.url));
  if (!res.ok) throw new Error(`catalog ${locale}: HTTP ${res.status}`);
  catalog = await res.json();
  document.documentElement.lang = locale;
}

// The text for key with {name} placeholders filled from vars; the key
// itself when the catalog lacks it (a test keeps that from happening).
export function t(key, vars = {}) {
  const text = Object.hasOwn(catalog, key) ? catalog[key] : key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (Object.hasOwn(vars, name) ? String(vars[name]) : m));
}

export function has(key) {
  return Object.hasOwn(catalog, key);
}

// Translate root and everything below it.
export function translate(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

// Remember an explicit language choice for a year, for every page under
// root (a URL), and for the server's own pages and e-mails.
export function setLocale(loc, root) {
  const path = new URL(root).pathname;
  document.cookie = `${LOCALE_COOKIE}=${encodeURIComponent(loc)}; Path=${path}; Max-Age=31536000; SameSite=Lax`;
}

// "25 Nov 2026, 23:56" in the reader's locale and time zone; fallbackKey's
// text when iso is empty or not a date.
export function formatDate(iso, fallbackKey = 'common.never') {
  const d = iso ? new Date(iso) : null;
  if (!d || Number.isNaN(d.getTime())) return t(fallbackKey);
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

// 1536 -> "1.5 kB" (decimal units, as disks are sold), localised.
export function formatSize(bytes) {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte', 'petabyte'];
  let v = Number(bytes) || 0;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return new Intl.NumberFormat(locale, {
    style: 'unit', unit: units[i], unitDisplay: 'short', maximumFractionDigits: i === 0 ? 0 : 1,
  }).format(v);
}

export function formatNumber(n) {
  return new Intl.NumberFormat(locale).format(n);
}
