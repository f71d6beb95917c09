/*
 * A paired scanner device as this browser knows it: its token (kept in localStorage, sent as
 * Authorization: Bearer), its name and branch; pairing with a one-time code, typed or read from
 * the pairing QR ({"v":1,"t":"qrservice-pair","url":…,"code":…}).
 */

const KEY = 'qrservice-device';
const PAIRING_TAG = 'qrservice-pair';

/** {token, id, name, unit, meeting_id, paired_at} or null. */
export function loadDevice() {
  try {
    const device = JSON.parse(localStorage.getItem(KEY) || 'null');
    return device && typeof device.token === 'string' && device.token ? device : null;
  } catch (e) {
    return null;
  }
}

export function saveDevice(device) {
  localStorage.setItem(KEY, JSON.stringify(device));
}

/** Forget the token; scans not yet sent stay in the queue. */
export function forgetDevice() {
  try { localStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
}

/**
 * The pairing QR's content as {version, code, url, here} (here: the code is for this
 * address), or null when the text is not a pairing QR.
 */
export function parsePairing(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return null;
  }
  if (!data || data.t !== PAIRING_TAG || typeof data.code !== 'string') return null;
  let here = true;
  if (typeof data.url === 'string' && data.url) {
    try {
      here = new URL(data.url).origin === location.origin;
    } catch (e) {
      here = false;
    }
  }
  return { version: data.v, code: data.code, url: data.url || '', here };
}

/**
 * Pair with a code. Resolves to {ok: true, device} (and keeps the device), or
 * {ok: false, reason, message, status}; rejects when the server cannot be reached.
 */
export async function pairWith(api, code) {
  const response = await fetch(api, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ code }),
    credentials: 'omit',
    cache: 'no-store',
  });
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (response.ok && data && data.token) {
    const device = Object.assign({}, data.device, { token: data.token, paired_at: new Date().toISOString() });
    saveDevice(device);
    return { ok: true, device };
  }
  return {
    ok: false,
    status: response.status,
    reason: (data && data.reason) || 'http_' + response.status,
    message: (data && data.message) || '',
  };
}
