/*
 * The queue of scans waiting to be sent: IndexedDB, else localStorage, else (with a warning)
 * memory. Reads merge every store and removals clear every store, so a scan written to a
 * fallback after IndexedDB failed is never stranded. An item is keyed by its nonce and leaves
 * the queue only once the server's answer for that nonce has arrived: the server answers a
 * repeated nonce with its first answer and no second row, so sending again is always safe.
 * The queue belongs to the browser, not to a login or a device token: scans kept while a
 * device was unpaired are sent once it is paired again.
 */

import { objectStore } from './idb.js';

const DB_NAME = 'qrservice-scanner';
const STORE = 'pending';
const LS_KEY = 'qrservice-scanner-pending';
const memory = new Map();

const idb = objectStore(DB_NAME, STORE, 'nonce');

function lsRead() {
  try {
    return JSON.parse(localStorage.getItem(LS_KEY) || '{}') || {};
  } catch (e) {
    return {};
  }
}

function lsWrite(map) {
  if (Object.keys(map).length) localStorage.setItem(LS_KEY, JSON.stringify(map));
  else localStorage.removeItem(LS_KEY);
}

export const Queue = {
  /** Resolves to where the item was kept: 'idb', 'local' or 'memory'. */
  async put(item) {
    try {
      await idb('readwrite', (store) => store.put(item));
      return 'idb';
    } catch (e) { /* next store */ }
    try {
      const map = lsRead();
      map[item.nonce] = item;
      lsWrite(map);
      return 'local';
    } catch (e) { /* next store */ }
    memory.set(item.nonce, item);
    return 'memory';
  },

  async all() {
    const found = new Map(memory);
    for (const item of Object.values(lsRead())) found.set(item.nonce, item);
    try {
      const items = await idb('readonly', (store) => store.getAll());
      for (const item of items || []) found.set(item.nonce, item);
    } catch (e) { /* the other stores still count */ }
    return [...found.values()].sort((a, b) => (a.client_time < b.client_time ? -1 : 1));
  },

  async remove(nonces) {
    if (!nonces.length) return;
    for (const nonce of nonces) memory.delete(nonce);
    try {
      const map = lsRead();
      let changed = false;
      for (const nonce of nonces) {
        if (nonce in map) { delete map[nonce]; changed = true; }
      }
      if (changed) lsWrite(map);
    } catch (e) { /* nothing kept there */ }
    try {
      await idb('readwrite', (store) => { for (const nonce of nonces) store.delete(nonce); });
    } catch (e) { /* nothing kept there */ }
  },
};
