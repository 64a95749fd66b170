// SPDX-License-Identifier: MIT
// Calls to the JSON API and their errors in the reader's language.  Every
// page talks to the server only through api(); a POST carries the CSRF
// token of the session cookie (docs/accounts.md).  URLs are relative to
// the web UI's root (the directory above js/), so the pages also work
// below a path prefix behind a proxy.

import { t, has } from './i18n.js';

// The web UI's root, e.g. "https://sync.example.org/".
export const root = new URL('../', import.meta.url);

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

export function csrfToken(name = 'csrf_token') {
  return cookie(name);
}

// Whether this browser holds a user session (its CSRF cookie is readable;
// the session cookie itself is HttpOnly).
export function signedIn() {
  return csrfToken() !== '';
}

// Call path ("api/v1/…", relative to root).  Resolves to the parsed JSON
// answer; rejects with ApiError (status 0, code "network_error", when the
// server cannot be reached).
export async function api(path, { method = 'GET', body, csrfCookie = 'csrf_token' } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') {
    const token = csrfToken(csrfCookie);
    if (token) headers['X-CSRF-Token'] = token;
  }
  let res;
  try {
    res = await fetch(new URL(path, root), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network_error', String(e));
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    throw new ApiError(res.status, (data && data.code) || 'unknown', (data && data.error) || '',
      res.headers.get('Retry-After'));
  }
  return data;
}

// The "error" texts that say more than their code; clients localise by
// code (api.md §1), and by these where the code alone is too coarse.
const MESSAGES = {
  'invalid credentials': 'invalid_credentials',
  'email not confirmed': 'email_not_confirmed',
  'account blocked': 'account_blocked',
  'wrong password': 'wrong_password',
  'password required': 'password_required',
  'login required': 'login_required',
  'invalid session': 'invalid_session',
  'session expired': 'session_expired',
  PASSWORD_TOO_SHORT: 'password_too_short',
  PASSWORD_TOO_LONG: 'password_too_long',
  'invalid username': 'invalid_username',
  'invalid email': 'invalid_email',
  'username already taken': 'username_taken',
  'email already registered': 'email_taken',
  'device not found': 'device_not_found',
  'device does not belong to you': 'device_not_yours',
  'invalid or expired token': 'token_invalid',
  'token expired': 'token_expired',
  'field too long': 'field_too_long',
  'username, email and password required': 'fields_required',
  'username and password required': 'fields_required',
  'email required': 'fields_required',
};
export const ERROR_MESSAGE_KEYS = Object.values(MESSAGES);

// The reader's text for an error thrown by api() (or anything else).
export function errorText(err) {
  if (!(err instanceof ApiError)) return t('error.unknown');
  const specific = Object.hasOwn(MESSAGES, err.message) ? `error.msg.${MESSAGES[err.message]}` : '';
  if (specific && has(specific)) return t(specific);
  if (err.code === 'rate_limited' && err.retryAfter) {
    return t('error.rate_limited_retry', { seconds: err.retryAfter });
  }
  const byCode = `error.code.${err.code}`;
  return has(byCode) ? t(byCode) : t('error.unknown');
}

// GET /api/v1/site: server name, the visitor's language, registration.
// When the server cannot answer, a stand-in from the browser's language.
export async function loadSite() {
  try {
    return await api('api/v1/site');
  } catch {
    const nav = (navigator.language || 'en').slice(0, 2);
    return {
      server_name: 'Verstak Sync Server', locale: nav === 'ru' ? 'ru' : 'en', default_locale: 'en',
      locales: ['en', 'ru'], allow_registration: false, public_url: null, unreachable: true,
    };
  }
}

// The address to paste into the desktop app: public_url when the server
// has one, else where this page was loaded from (never built by the server
// from a Host header).
export function serverUrl(site) {
  if (site.public_url) return site.public_url;
  return root.href.replace(/\/$/, '');
}
