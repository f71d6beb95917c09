/*
 * The expected lists a scanner keeps for offline use (GET {api}/expected, scan/lists.py): per
 * meeting, each expected member with their current card's version and digest (the first 128
 * bits of the SHA-256 of the card's token, as hex) and their attendance so far.
 *
 * Offline, a scanned code is judged at once against the kept list: the current card of a
 * member on it ("王洋, pending sync"), another version of a listed member's card (replaced),
 * a card of no one on the list, or not a card of ours. The scan is kept in the queue whatever
 * the verdict: the server decides when it syncs.
 */

import { objectStore } from './idb.js';

const DB_NAME = 'qrservice-scanner-lists';
const STORE = 'lists';
const LS_PREFIX = 'qrservice-scanner-list:';

const idb = objectStore(DB_NAME, STORE, 'api');

/** Keep a meeting's list: {api, at, meeting, members}. */
export async function keepList(list) {
  try {
    await idb('readwrite', (store) => store.put(list));
    return;
  } catch (e) { /* next store */ }
  try {
    localStorage.setItem(LS_PREFIX + list.api, JSON.stringify(list));
  } catch (e) { /* only memory: the page still has it */ }
}

export async function loadList(api) {
  try {
    const list = await idb('readonly', (store) => store.get(api));
    if (list) return list;
  } catch (e) { /* next store */ }
  try {
    return JSON.parse(localStorage.getItem(LS_PREFIX + api) || 'null');
  } catch (e) {
    return null;
  }
}

/* ---------- reading a code as the server does (cards/tokens.py token_from_text) ---------- */

const TOKEN_SHAPE = /^[0-9]{1,3}\.[A-Za-z0-9_.-]{4,250}$/;
const CARD_PATH = /(?:^|\/)c\/([^/]+)\/?$/;

/** The card token in scanned text (a card URL of any host, or a bare token), or null. */
export function tokenFromText(text) {
  const trimmed = text.trim();
  if (TOKEN_SHAPE.test(trimmed)) return trimmed;
  let url;
  try {
    url = new URL(trimmed);
  } catch (e) {
    return null;
  }
  if (!/^https?:$/i.test(url.protocol) || !url.host) return null;
  const match = CARD_PATH.exec(url.pathname);
  if (!match) return null;
  let candidate;
  try {
    candidate = decodeURIComponent(match[1]);
  } catch (e) {
    return null;
  }
  return TOKEN_SHAPE.test(candidate) ? candidate : null;
}

/** {memberId, version} from a card token's fields (format.c.kid.member36.version36.sig). */
function cardFields(token) {
  const parts = token.split('.');
  if (parts.length !== 6 || parts[0] !== '1' || parts[1] !== 'c') return null;
  if (!/^[0-9a-z]{1,13}$/.test(parts[3]) || !/^[0-9a-z]{1,13}$/.test(parts[4])) return null;
  return { memberId: parseInt(parts[3], 36), version: parseInt(parts[4], 36) };
}

/** Hex SHA-256 of a text, or null where the browser has no WebCrypto (an http page). */
async function sha256hex(text) {
  if (!self.crypto || !crypto.subtle) return null;
  try {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  } catch (e) {
    return null;
  }
}

const ATTENDED = new Set(['present', 'late', 'made_up', 'visitor']);

/**
 * What the kept list says of a scanned code, at once and offline:
 *  {verdict: 'current' | 'pending' | 'checked_in' | 'superseded' | 'unknown_card' | 'not_listed'
 *   | 'invalid', member}
 * 'current', 'pending' (scanned already, waiting to be sent) and 'checked_in' are the member's
 * current card. Without WebCrypto the card's
 * version stands in for its digest (the server still verifies every code when it syncs).
 */
export async function judge(list, text) {
  const token = tokenFromText(text);
  const fields = token && cardFields(token);
  if (!fields) return { verdict: 'invalid', member: null };
  const member = ((list && list.members) || []).find((m) => m.id === fields.memberId) || null;
  if (!member) return { verdict: 'not_listed', member: null };
  const card = member.card;
  if (!card) return { verdict: 'unknown_card', member };
  const digest = await sha256hex(token);
  const current = digest === null
    ? fields.version === card.version
    : digest.slice(0, card.digest.length) === card.digest;
  if (current) {
    if (member.attendance === 'pending') return { verdict: 'pending', member }; // kept already
    return { verdict: ATTENDED.has(member.attendance) ? 'checked_in' : 'current', member };
  }
  if (fields.version < card.version) return { verdict: 'superseded', member };
  return { verdict: 'unknown_card', member };
}

/** Note in the kept list that a member's attendance changed (an answer, or a scan kept). */
export function noteAttendance(list, memberId, status) {
  const member = ((list && list.members) || []).find((m) => m.id === memberId);
  if (member) member.attendance = status;
}
