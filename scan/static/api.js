/*
 * The scanner's API client (scan/api.py), for either way in:
 *  - "officer": the login session's cookie, with the CSRF token in X-CSRFToken on POSTs (a
 *    stale token is refreshed from the page once and the call made again);
 *  - "device": Authorization: Bearer <device token> and no cookie at all; no CSRF token.
 *
 * A call resolves to {status, data} when the server answered; it rejects with NetworkError
 * when it did not (no connection, timeout, or a 2xx that is not our JSON, as a captive portal
 * gives): the caller cannot know whether the server acted, so it keeps the scan to re-send.
 */

import { loadDevice } from './device.js';

export class NetworkError extends Error {}

const TIMEOUT_MS = 10000; // a request slower than this counts as a network failure

/** The reasons of a 401 that mean the device must be paired again. */
export const UNPAIRED = new Set(['device_unknown', 'device_revoked']);

export function createClient({ mode, csrfToken, onReachable }) {
  let csrf = csrfToken || '';

  function headersFor(method) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') headers['Content-Type'] = 'application/json';
    if (mode === 'device') {
      const device = loadDevice(); // read each time: a pairing in another tab counts at once
      if (device) headers.Authorization = 'Bearer ' + device.token;
    } else if (method !== 'GET') {
      headers['X-CSRFToken'] = csrf;
    }
    return headers;
  }

  async function call(method, url, body, timeoutMs) {
    const controller = self.AbortController ? new AbortController() : null;
    const timer = controller && setTimeout(() => controller.abort(), timeoutMs || TIMEOUT_MS);
    try {
      let response;
      try {
        response = await fetch(url, {
          method,
          headers: headersFor(method),
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: mode === 'device' ? 'omit' : 'same-origin',
          cache: 'no-store',
          signal: controller ? controller.signal : undefined,
        });
      } catch (e) {
        if (onReachable) onReachable(false);
        throw e;
      }
      if (onReachable) onReachable(true);
      let data = null;
      if ((response.headers.get('Content-Type') || '').includes('json')) {
        try {
          data = await response.json();
        } catch (e) {
          data = null;
        }
      }
      if (response.ok && (data === null || typeof data !== 'object')) {
        throw new NetworkError('not our answer');
      }
      return { status: response.status, data };
    } catch (e) {
      throw e instanceof NetworkError ? e : new NetworkError(String(e && e.message));
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** A fresh CSRF token from this page, for a page opened long ago or from the offline copy. */
  async function refreshCsrf() {
    try {
      const response = await fetch(location.pathname, {
        credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'text/html' },
      });
      if (!response.ok || response.redirected) return false;
      const page = new DOMParser().parseFromString(await response.text(), 'text/html');
      const meta = page.querySelector('meta[name="csrf-token"]');
      if (meta && meta.content) {
        csrf = meta.content;
        return true;
      }
    } catch (e) { /* offline again */ }
    return false;
  }

  async function post(url, body, timeoutMs) {
    let answer = await call('POST', url, body, timeoutMs);
    if (mode === 'officer') {
      // A refused CSRF token comes back as a 400 page (not JSON) or as reason "csrf".
      const refused = answer.status === 400 && (!answer.data || answer.data.reason === 'csrf');
      if (refused && (await refreshCsrf())) answer = await call('POST', url, body, timeoutMs);
    }
    return answer;
  }

  return {
    mode,
    call,
    post,
    get: (url, timeoutMs) => call('GET', url, undefined, timeoutMs),
  };
}
