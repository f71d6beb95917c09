/*
 * The secretary's scanner page (templates/scan/scanner.html).
 *
 * Codes arrive from the camera (BarcodeDetector where the browser has it, else the vendored
 * jsQR), from a USB/Bluetooth scanner typing into the entry box, or from a photo. Each becomes
 * one check-in with its own nonce, sent to the JSON API (scan/api.py).
 *
 * Offline: a scan that cannot be sent is kept in IndexedDB (localStorage if not available),
 * keyed by its nonce, and sent with POST {api}/sync when the network is back. An item leaves
 * the queue only once the server's answer for its nonce has arrived; the server answers a
 * repeated nonce with its first answer and no second row, so re-sending after a lost response
 * is safe. The service worker (sw.js) keeps this page openable without a network.
 */
(function () {
  'use strict';

  const root = document.getElementById('scanner');
  if (!root) return;

  const API = root.dataset.apiBase;
  const STRINGS = JSON.parse(root.dataset.strings || '{}');
  const STATUSES = Object.assign(JSON.parse(root.dataset.statuses || '{}'), { undone: STRINGS.undone });
  const UTC_OFFSET_MIN = root.dataset.utcOffset === undefined ? null : Number(root.dataset.utcOffset);

  const POLL_MS = 5000; // live counts, while online
  const RETRY_MS = 10000; // sending the saved scans again
  const REPEAT_MS = 3000; // the same code seen again within this time is not sent again
  const FRAME_MS = 200; // camera decode rate
  const TIMEOUT_MS = 10000; // a request slower than this counts as a network failure...
  const SYNC_TIMEOUT_MS = 30000; // ...except a batch of saved scans on a slow line
  const BATCH = 100; // scans per sync request (the server takes up to 500)
  const LOG_MAX = 100;
  const CAMERA_PREF = 'qrservice-scanner-camera';
  const STATUS_KEY = 'qrservice-scanner-status:' + API;

  const $ = (id) => document.getElementById(id);
  const ui = {
    net: $('net'), offlineReady: $('offline-ready'), relogin: $('relogin'),
    result: $('result'), resultText: $('result-text'), resultDetail: $('result-detail'),
    confirmVisitor: $('confirm-visitor'),
    form: $('entry-form'), entry: $('entry'), lookup: $('lookup'), lookupNote: $('lookup-note'),
    viewfinder: $('viewfinder'), video: $('video'), camera: $('camera'), cameraNote: $('camera-note'),
    photo: $('photo'),
    counts: $('counts'), countsNote: $('counts-note'),
    pending: $('pending'), pendingCount: $('pending-count'), pendingList: $('pending-list'),
    syncNow: $('sync-now'), syncNote: $('sync-note'),
    log: $('log'), undo: $('undo'), missing: $('missing'), recent: $('recent'),
  };

  /* ---------- small helpers ---------- */

  function t(key, fields) {
    const text = STRINGS[key] || key;
    if (!fields) return text;
    return text.replace(/\{(\w+)\}/g, (all, name) => (name in fields ? String(fields[name]) : all));
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key.startsWith('data-') || key === 'datetime') node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child !== undefined && child !== null && child !== '') node.append(child);
    }
    return node;
  }

  /** "HH:MM:SS" in the organisation's time zone (the device's when the page does not say). */
  function clock(iso) {
    const date = iso ? new Date(iso) : new Date();
    if (Number.isNaN(date.getTime())) return '';
    if (UTC_OFFSET_MIN === null || Number.isNaN(UTC_OFFSET_MIN)) return date.toLocaleTimeString();
    return new Date(date.getTime() + UTC_OFFSET_MIN * 60000).toISOString().slice(11, 19);
  }

  /** 18 random bytes as URL-safe base64: 24 characters of [A-Za-z0-9_-]. */
  function newNonce() {
    const bytes = new Uint8Array(18);
    crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
  }

  function shortCode(code) {
    return code.length > 36 ? code.slice(0, 20) + '…' + code.slice(-8) : code;
  }

  function isOnline() {
    return navigator.onLine !== false;
  }

  function statusLabel(status) {
    return STATUSES[status] || status;
  }

  /* ---------- the queue of scans waiting to be sent ---------- */

  /**
   * Where unsent scans are kept: IndexedDB, else localStorage, else (with a warning) memory.
   * Reads merge every store and removals clear every store, so a scan written to a fallback
   * after IndexedDB failed is never stranded.
   */
  const Queue = (function () {
    const DB_NAME = 'qrservice-scanner';
    const STORE = 'pending';
    const LS_KEY = 'qrservice-scanner-pending';
    let dbPromise = null;
    const memory = new Map();

    function openDb() {
      if (!dbPromise) {
        dbPromise = new Promise((resolve, reject) => {
          if (!self.indexedDB) throw new Error('no IndexedDB');
          const request = indexedDB.open(DB_NAME, 1);
          request.onupgradeneeded = () => {
            request.result.createObjectStore(STORE, { keyPath: 'nonce' });
          };
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
          request.onblocked = () => reject(new Error('IndexedDB blocked'));
        });
      }
      return dbPromise;
    }

    function idb(mode, work) {
      return openDb().then((db) => new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const request = work(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(request ? request.result : undefined);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error || new Error('aborted'));
      }));
    }

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

    return {
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
  })();

  /* ---------- talking to the server ---------- */

  class NetworkError extends Error {}

  let csrfToken = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';

  /**
   * One request. Resolves to {status, data} when the server answered; rejects with NetworkError
   * when it did not (no connection, timeout, or a 2xx that is not our JSON, as a captive portal
   * gives): the caller cannot know whether the server acted, so it keeps the scan to re-send.
   */
  async function call(method, url, body, timeoutMs) {
    const controller = self.AbortController ? new AbortController() : null;
    const timer = controller && setTimeout(() => controller.abort(), timeoutMs || TIMEOUT_MS);
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') {
      headers['Content-Type'] = 'application/json';
      headers['X-CSRFToken'] = csrfToken;
    }
    try {
      let response;
      try {
        response = await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: 'same-origin',
          cache: 'no-store',
          signal: controller ? controller.signal : undefined,
        });
      } catch (e) {
        reachable(false);
        throw e;
      }
      reachable(true);
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
        csrfToken = meta.content;
        return true;
      }
    } catch (e) { /* offline again */ }
    return false;
  }

  async function post(url, body, timeoutMs) {
    let answer = await call('POST', url, body, timeoutMs);
    // A refused CSRF token comes back as a 400 page (not JSON) or as reason "csrf".
    const csrfRefused = answer.status === 400 && (!answer.data || answer.data.reason === 'csrf');
    if (csrfRefused && (await refreshCsrf())) answer = await call('POST', url, body, timeoutMs);
    return answer;
  }

  let serverReachable = true;

  function reachable(yes) {
    if (serverReachable === yes) return;
    serverReachable = yes;
    renderNet();
  }

  function needLogin() {
    ui.relogin.hidden = false;
  }

  /* ---------- what the secretary sees and hears ---------- */

  let audio = null;

  function audioContext() {
    const Context = self.AudioContext || self.webkitAudioContext;
    if (!Context) return null;
    try {
      audio = audio || new Context();
      if (audio.state === 'suspended') audio.resume().catch(() => {});
    } catch (e) {
      return null;
    }
    return audio;
  }

  // Browsers start sound only after a gesture; a USB scanner's keystrokes count as one.
  document.addEventListener('pointerdown', audioContext, { once: true });
  document.addEventListener('keydown', audioContext, { once: true });

  function tone(context, frequency, start, duration) {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    const at = context.currentTime + start;
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.35, at + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + duration);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(at);
    oscillator.stop(at + duration + 0.02);
  }

  /** ok: one high beep; saved: one middle beep; anything refused: two low beeps. */
  function beep(kind) {
    const context = audioContext();
    if (context && context.state !== 'closed') {
      try {
        if (kind === 'ok') tone(context, 1320, 0, 0.15);
        else if (kind === 'saved') tone(context, 660, 0, 0.12);
        else { tone(context, 220, 0, 0.16); tone(context, 220, 0.24, 0.16); }
      } catch (e) { /* no sound */ }
    }
    if (navigator.vibrate) {
      try { navigator.vibrate(kind === 'ok' ? 60 : kind === 'saved' ? 30 : [90, 60, 90]); } catch (e) { /* none */ }
    }
  }

  let visitorScan = null;
  let shownAt = 0;

  /** The answer panel: kind is ok, refused, ask (a visitor to confirm), saved, undone or error. */
  function show(kind, text, detail, askVisitorFor) {
    shownAt = Date.now();
    ui.result.dataset.kind = kind;
    ui.resultText.textContent = text;
    ui.resultDetail.textContent = detail || '';
    visitorScan = askVisitorFor || null;
    ui.confirmVisitor.hidden = !visitorScan;
  }

  function memberLine(member, attendance) {
    if (!member) return '';
    const parts = [member.number, member.branch || member.unit];
    if (attendance && attendance.status) parts.push(statusLabel(attendance.status));
    if (attendance && attendance.checked_in_at) parts.push(clock(attendance.checked_in_at));
    return parts.filter(Boolean).join(' · ');
  }

  function kindOf(answer) {
    if (answer.status === 'ok') return 'ok';
    return answer.reason === 'not_expected' ? 'ask' : 'refused';
  }

  function scanLabel(scan) {
    if (scan.label) return scan.label;
    return scan.code ? shortCode(scan.code) : '#' + scan.member_id;
  }

  /** A line of "Scans on this device". */
  function logAnswer(scan, answer, sentLater) {
    const kind = kindOf(answer);
    const who = answer.member ? answer.member.name : scanLabel(scan);
    const item = el('li', { 'data-kind': kind, 'data-nonce': scan.nonce },
      el('time', { datetime: scan.client_time }, clock(scan.client_time)), ' ',
      el('strong', {}, who), ' ',
      el('small', {}, memberLine(answer.member, answer.attendance)), ' ',
      el('span', { class: 'what' }, answer.status === 'ok' ? statusLabel((answer.attendance || {}).status || 'present') : answer.message),
      sentLater ? el('span', { class: 'tag' }, t('sent_later')) : null,
      answer.replayed ? el('span', { class: 'tag' }, t('sent_before')) : null);
    if (kind === 'ask') {
      const button = el('button', { type: 'button', class: 'btn', textContent: t('record_visitor') });
      button.addEventListener('click', () => {
        button.disabled = true;
        confirmVisitor(scan);
      });
      item.append(' ', button);
    }
    ui.log.prepend(item);
    while (ui.log.children.length > LOG_MAX) ui.log.lastElementChild.remove();
  }

  /* ---------- counts and lists from the server ---------- */

  let lastStatus = null;
  let lastStatusAt = null; // when the server gave it (ISO time)

  function renderCounts(counts) {
    if (!counts) return;
    for (const node of ui.counts.querySelectorAll('[data-count]')) {
      const value = counts[node.dataset.count];
      node.textContent = value === undefined ? '–' : String(value);
    }
  }

  function personRow(person, action) {
    return el('li', { 'data-member-id': person.id },
      el('span', {}, person.name), ' ',
      el('small', {}, [person.number, person.unit].filter(Boolean).join(' · ')),
      action || null);
  }

  function checkInButton(person) {
    const button = el('button', { type: 'button', class: 'btn', textContent: t('check_in') });
    button.addEventListener('click', () => {
      button.disabled = true;
      checkIn({ member_id: person.id, via: 'manual', label: person.name }).then((outcome) => {
        if (outcome === 'ok' || outcome === 'saved') {
          button.replaceWith(el('span', { class: 'tag' }, outcome === 'ok' ? t('checked_in') : t('saved_tag')));
        }
      }).finally(() => {
        button.disabled = false;
        ui.entry.focus();
      });
    });
    return button;
  }

  function renderStatus(status, savedAt) {
    lastStatus = status;
    lastStatusAt = savedAt || new Date().toISOString();
    renderCounts(status.counts);
    ui.countsNote.textContent = savedAt ? t('as_of', { time: clock(savedAt) }) : '';
    ui.missing.replaceChildren(...(status.missing || []).map((p) => personRow(p, checkInButton(p))));
    if (!ui.missing.children.length) ui.missing.append(el('li', {}, t('everyone')));
    ui.recent.replaceChildren(...(status.recent || []).map((r) => el('li', {},
      el('time', { datetime: r.checked_in_at }, clock(r.checked_in_at)), ' ',
      el('span', {}, r.name), ' ',
      el('small', {}, [r.number, statusLabel(r.status)].join(' · ')))));
    if (!ui.recent.children.length) ui.recent.append(el('li', {}, t('nobody')));
  }

  let statusBusy = false;

  async function refreshStatus() {
    if (!isOnline() || statusBusy) return;
    statusBusy = true;
    try {
      const answer = await call('GET', API + '/status');
      if (answer.status === 200) {
        renderStatus(answer.data, null);
        try {
          localStorage.setItem(STATUS_KEY, JSON.stringify({ at: lastStatusAt, status: answer.data }));
        } catch (e) { /* only a convenience */ }
      } else if (answer.status === 401) {
        needLogin();
      }
    } catch (e) {
      /* offline: the last counts stay, marked with their time */
      if (lastStatus) ui.countsNote.textContent = t('as_of', { time: clock(lastStatusAt) });
    } finally {
      statusBusy = false;
    }
  }

  function showSavedStatus() {
    try {
      const saved = JSON.parse(localStorage.getItem(STATUS_KEY) || 'null');
      if (saved && saved.status) renderStatus(saved.status, saved.at);
    } catch (e) { /* none saved */ }
  }

  let statusSoon = null;

  function refreshStatusSoon() {
    clearTimeout(statusSoon);
    statusSoon = setTimeout(refreshStatus, 300);
  }

  /* ---------- check-in ---------- */

  let pending = []; // mirror of the queue, for display and duplicate checks

  function scanBody(scan) {
    const body = {
      nonce: scan.nonce, client_time: scan.client_time, via: scan.via,
      confirm_visitor: Boolean(scan.confirm_visitor),
    };
    if (scan.code !== undefined && scan.code !== null) body.code = scan.code;
    else body.member_id = scan.member_id;
    return body;
  }

  function newScan(what) {
    const scan = {
      nonce: newNonce(),
      client_time: what.client_time || new Date().toISOString(),
      via: what.via,
      confirm_visitor: Boolean(what.confirm_visitor),
      api: API,
      label: what.label || '',
    };
    if (what.code !== undefined) scan.code = what.code;
    else scan.member_id = what.member_id;
    return scan;
  }

  /**
   * Check in a code or a member; answers on screen, or keeps the scan when offline.
   * Resolves to the outcome: ok, refused, ask (a visitor to confirm), saved or error.
   */
  async function checkIn(what) {
    const scan = newScan(what);
    if (!isOnline()) return keep(scan);
    let answer;
    try {
      answer = await post(API + '/checkins', scanBody(scan));
    } catch (e) {
      if (e instanceof NetworkError) return keep(scan);
      throw e;
    }
    if (answer.status === 200) {
      if (pending.length) syncPending();
      return announce(scan, answer.data);
    }
    if (answer.status === 401) {
      needLogin();
      return keep(scan);
    }
    if (answer.status >= 500 || answer.status === 429 || answer.status === 408) return keep(scan);
    const data = answer.data || {};
    show('error', data.message || t('server_error', { code: answer.status }));
    beep('refused');
    return 'error';
  }

  function announce(scan, answer) {
    const kind = kindOf(answer);
    show(kind, answer.message, memberLine(answer.member, answer.attendance),
      kind === 'ask' ? scan : null);
    beep(kind === 'ok' ? 'ok' : 'refused');
    logAnswer(scan, answer, false);
    renderCounts(answer.counts);
    refreshStatusSoon();
    return kind;
  }

  /** The same scan again, confirmed as a visitor: same code or member and time, a new nonce. */
  function confirmVisitor(scan) {
    const what = { via: scan.via, client_time: scan.client_time, label: scan.label, confirm_visitor: true };
    if (scan.code !== undefined) what.code = scan.code;
    else what.member_id = scan.member_id;
    return checkIn(what);
  }

  function sameScan(a, b) {
    return a.api === b.api && a.code === b.code && a.member_id === b.member_id &&
      Boolean(a.confirm_visitor) === Boolean(b.confirm_visitor);
  }

  /** Keep a scan that could not be sent, until the server has answered for its nonce. */
  async function keep(scan) {
    if (pending.some((other) => sameScan(other, scan))) {
      show('saved', t('already_saved'), scanLabel(scan));
      beep('saved');
      return 'saved';
    }
    // Sent later, the server takes the device's time of the scan (client_time) for "late".
    scan.via = 'offline';
    scan.kept_at = new Date().toISOString();
    pending.push(scan);
    renderPending();
    const where = await Queue.put(scan);
    show('saved', where === 'memory' ? t('storage_failed') : t('saved'), scanLabel(scan));
    beep('saved');
    return 'saved';
  }

  function renderPending() {
    const mine = pending.filter((scan) => scan.api === API);
    ui.pending.hidden = mine.length === 0;
    ui.pendingCount.textContent = String(mine.length);
    ui.pendingList.replaceChildren(...mine.map((scan) => el('li', { 'data-nonce': scan.nonce },
      el('time', { datetime: scan.client_time }, clock(scan.client_time)), ' ',
      el('span', {}, scanLabel(scan)),
      scan.confirm_visitor ? el('span', { class: 'tag' }, statusLabel('visitor')) : null)));
  }

  /* ---------- sending the saved scans ---------- */

  let syncing = null;
  let syncAgain = false;

  function syncPending() {
    if (syncing) {
      syncAgain = true;
      return syncing;
    }
    const run = () => sendSaved().catch(() => {});
    syncing = (navigator.locks && navigator.locks.request
      ? navigator.locks.request('qrservice-scanner-sync', run) // one tab at a time
      : run()
    ).finally(() => {
      syncing = null;
      if (syncAgain) {
        syncAgain = false;
        syncPending();
      }
    });
    return syncing;
  }

  /** How the sending of saved scans goes, shown with the list of them (not in the answer panel,
   * which belongs to the scan in front of the secretary). */
  function syncState(state, message) {
    ui.pending.dataset.sync = state;
    ui.syncNote.textContent = message || (state === 'sending' ? t('sending') : state === 'failed' ? t('send_failed') : '');
  }

  async function sendSaved() {
    pending = await Queue.all();
    renderPending();
    if (!pending.length || !isOnline()) return;
    const byMeeting = new Map();
    for (const scan of pending) {
      if (!byMeeting.has(scan.api)) byMeeting.set(scan.api, []);
      byMeeting.get(scan.api).push(scan);
    }
    const tally = { n: 0, ok: 0, refused: 0 };
    let answered = false;
    let problem = '';
    syncState('sending');
    try {
      answered = true;
      for (const [api, scans] of byMeeting) {
        for (let i = 0; answered && i < scans.length; i += BATCH) {
          problem = await sendBatch(api, scans.slice(i, i + BATCH), tally);
          answered = problem === '';
        }
        if (!answered) break;
      }
    } catch (e) {
      answered = false;
    } finally {
      syncState(answered ? 'done' : 'failed', problem);
      if (tally.n) {
        // The results are in the list; the panel says so unless it is showing a fresh answer.
        if (Date.now() - shownAt > REPEAT_MS) show(tally.refused ? 'refused' : 'ok', t('synced', tally));
        beep(tally.refused ? 'refused' : 'ok');
        refreshStatusSoon();
      }
    }
  }

  /**
   * Send one batch; resolves to '' when the server answered it, else to what went wrong (the
   * unanswered scans stay in the queue for the next try).
   */
  async function sendBatch(api, batch, tally) {
    let answer;
    try {
      answer = await post(api + '/sync', { scans: batch.map(scanBody) }, SYNC_TIMEOUT_MS);
    } catch (e) {
      if (e instanceof NetworkError) return t('send_failed');
      throw e;
    }
    if (answer.status === 401) {
      needLogin();
      return t('login_expired');
    }
    if (answer.status !== 200 || !Array.isArray(answer.data.results)) {
      const data = answer.data || {};
      return data.message || t('server_error', { code: answer.status });
    }
    const sent = new Map(batch.map((scan) => [scan.nonce, scan]));
    const answered = answer.data.results.filter((result) => sent.has(result.nonce));
    const done = new Set(answered.map((result) => result.nonce));
    await Queue.remove([...done]);
    pending = pending.filter((scan) => !done.has(scan.nonce));
    renderPending();
    for (const result of answered) {
      const scan = sent.get(result.nonce);
      if (api === API) logAnswer(scan, result, true);
      tally.n += 1;
      if (result.status === 'ok') tally.ok += 1;
      else tally.refused += 1;
    }
    if (api === API) renderCounts(answer.data.counts);
    return '';
  }

  /* ---------- taking back the last check-in ---------- */

  async function undoLast() {
    if (!isOnline()) {
      show('error', t('undo_offline'));
      return;
    }
    if (pending.some((scan) => scan.api === API)) {
      show('error', t('undo_wait'));
      return;
    }
    if (!window.confirm(t('undo_confirm'))) return;
    let answer;
    try {
      answer = await post(API + '/undo', {});
    } catch (e) {
      show('error', t('unreachable'));
      return;
    }
    const data = answer.data || {};
    if (answer.status === 401) needLogin();
    if (answer.status === 200 && data.status === 'ok') {
      show('undone', data.message, data.member ? memberLine(data.member) : '');
      beep('saved');
      renderCounts(data.counts);
      ui.log.prepend(el('li', { 'data-kind': 'undone' }, el('time', {}, clock()), ' ',
        el('strong', {}, data.member ? data.member.name : ''), ' ',
        el('span', { class: 'what' }, statusLabel('undone'))));
      refreshStatusSoon();
    } else {
      show('refused', data.message || t('server_error', { code: answer.status }));
      beep('refused');
    }
  }

  /* ---------- the entry box: USB scanners, typed codes, names and numbers ---------- */

  const lastSeen = new Map();

  /** A decoded or typed code; the same code seen again within REPEAT_MS is ignored. */
  function onCode(text, via) {
    const code = text.trim();
    if (!code) return;
    const now = Date.now();
    const seen = lastSeen.get(code);
    lastSeen.set(code, now);
    if (seen !== undefined && now - seen < REPEAT_MS) return;
    if (lastSeen.size > 200) {
      for (const [key, at] of lastSeen) if (now - at > REPEAT_MS) lastSeen.delete(key);
    }
    checkIn({ code, via });
  }

  /** A card URL (http(s)://…/c/<token>) or a bare token, as a scanner types it. */
  function looksLikeCode(text) {
    return /^https?:\/\/\S+$/i.test(text) || /^\d{1,3}\.[A-Za-z0-9_.-]{4,250}$/.test(text);
  }

  function showMatches(members, note) {
    ui.lookupNote.textContent = note || (members.length ? '' : t('no_match'));
    ui.lookup.replaceChildren(...members.map((m) => personRow(m,
      m.checked_in ? el('span', { class: 'tag' }, t('checked_in')) : checkInButton(m))));
  }

  function searchOffline(q) {
    const needle = q.toLowerCase();
    const found = ((lastStatus && lastStatus.missing) || []).filter((m) =>
      m.name.toLowerCase().includes(needle) || String(m.number).includes(needle));
    showMatches(found.slice(0, 20), t('offline_search') + (found.length ? '' : ' ' + t('no_match')));
  }

  async function lookup(q) {
    if (!isOnline()) return searchOffline(q);
    ui.lookupNote.textContent = t('searching');
    try {
      const answer = await call('GET', API + '/lookup?q=' + encodeURIComponent(q));
      if (answer.status === 200) showMatches(answer.data.members || []);
      else {
        if (answer.status === 401) needLogin();
        showMatches([], (answer.data && answer.data.message) || t('server_error', { code: answer.status }));
      }
    } catch (e) {
      searchOffline(q);
    }
  }

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = ui.entry.value.trim();
    if (!text) return;
    if (looksLikeCode(text)) {
      ui.entry.value = '';
      onCode(text, 'scan');
    } else {
      ui.entry.select(); // the next scan replaces the search text
      lookup(text);
    }
  });

  // A USB scanner types wherever the focus is: keys typed outside any field go to the entry box.
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1 || event.key === ' ') return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    ui.entry.focus(); // the key itself then lands in the box
  });

  /* ---------- decoding: BarcodeDetector, else jsQR ---------- */

  let jsqrLoading = null;

  function loadJsQR() {
    if (self.jsQR) return Promise.resolve(self.jsQR);
    if (!jsqrLoading) {
      jsqrLoading = new Promise((resolve, reject) => {
        const script = document.createElement('script');
        script.src = root.dataset.decoder;
        script.async = true;
        script.onload = () => (self.jsQR ? resolve(self.jsQR) : reject(new Error('jsQR missing')));
        script.onerror = () => {
          jsqrLoading = null;
          script.remove();
          reject(new Error('jsQR not loaded'));
        };
        document.head.append(script);
      });
    }
    return jsqrLoading;
  }

  async function makeDetector() {
    if (!('BarcodeDetector' in self)) return null;
    try {
      if (typeof self.BarcodeDetector.getSupportedFormats === 'function') {
        const formats = await self.BarcodeDetector.getSupportedFormats();
        if (!formats.includes('qr_code')) return null;
      }
      return new self.BarcodeDetector({ formats: ['qr_code'] });
    } catch (e) {
      return null;
    }
  }

  const canvas = document.createElement('canvas');
  const context2d = canvas.getContext('2d', { willReadFrequently: true });

  /** Decode with jsQR from an image or video frame, scaled so its long side is at most max. */
  function jsqrDecode(source, width, height, max, inversion) {
    const scale = Math.min(1, max / Math.max(width, height));
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    context2d.drawImage(source, 0, 0, canvas.width, canvas.height);
    const image = context2d.getImageData(0, 0, canvas.width, canvas.height);
    const found = self.jsQR(image.data, image.width, image.height, { inversionAttempts: inversion });
    return found && found.data ? found.data : null;
  }

  async function detectFirst(detector, source) {
    const codes = await detector.detect(source);
    const first = (codes || []).find((c) => c && c.rawValue);
    return first ? first.rawValue : null;
  }

  /* ---------- the camera ---------- */

  let stream = null;
  let detector = null;
  let frameTimer = null;
  let scanning = false;

  function cameraNote(text) {
    ui.cameraNote.textContent = text || '';
  }

  async function startCamera() {
    if (scanning || stream) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraNote(t('camera_unavailable'));
      return;
    }
    cameraNote(t('camera_starting'));
    ui.camera.disabled = true;
    try {
      detector = await makeDetector();
      if (!detector) {
        try {
          await loadJsQR();
        } catch (e) {
          cameraNote(t('decoder_missing'));
          return;
        }
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          audio: false,
          video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
        });
      } catch (e) {
        cameraNote(t('camera_unavailable'));
        return;
      }
      ui.video.srcObject = stream;
      ui.viewfinder.hidden = false;
      try {
        await ui.video.play();
      } catch (e) { /* frames still arrive for decoding */ }
      scanning = true;
      root.dataset.camera = 'on';
      ui.camera.textContent = t('stop_camera');
      cameraNote(t('camera_on'));
      try { localStorage.setItem(CAMERA_PREF, 'on'); } catch (e) { /* not remembered */ }
      nextFrame();
    } finally {
      ui.camera.disabled = false;
    }
  }

  function stopCamera(remember) {
    scanning = false;
    clearTimeout(frameTimer);
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    ui.video.srcObject = null;
    ui.viewfinder.hidden = true;
    delete root.dataset.camera;
    ui.camera.textContent = t('start_camera');
    cameraNote('');
    if (remember) {
      try { localStorage.setItem(CAMERA_PREF, 'off'); } catch (e) { /* not remembered */ }
    }
  }

  function nextFrame() {
    if (scanning) frameTimer = setTimeout(decodeFrame, FRAME_MS);
  }

  async function decodeFrame() {
    const video = ui.video;
    try {
      if (scanning && video.readyState >= 2 && video.videoWidth) {
        let text = null;
        if (detector) {
          try {
            text = await detectFirst(detector, video);
          } catch (e) {
            detector = null; // this browser's detector does not work: use jsQR from now on
            await loadJsQR().catch(() => cameraNote(t('decoder_missing')));
          }
        } else if (self.jsQR) {
          text = jsqrDecode(video, video.videoWidth, video.videoHeight, 640, 'dontInvert');
        }
        if (text && scanning) onCode(text, 'scan');
      }
    } finally {
      nextFrame();
    }
  }

  ui.camera.addEventListener('click', () => {
    if (scanning) stopCamera(true);
    else startCamera();
  });

  // Give the camera back while the page is hidden; take it again on return if it was on.
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      if (scanning) stopCamera(false);
    } else if (cameraWanted()) {
      startCamera();
    }
  });

  function cameraWanted() {
    try {
      return localStorage.getItem(CAMERA_PREF) === 'on';
    } catch (e) {
      return false;
    }
  }

  /* ---------- a photo of a code ---------- */

  async function decodePhoto(file) {
    const url = URL.createObjectURL(file);
    try {
      const image = new Image();
      image.src = url;
      await image.decode();
      const found = await makeDetector();
      if (found) {
        try {
          const text = await detectFirst(found, image);
          if (text) return text;
        } catch (e) { /* try jsQR */ }
      }
      await loadJsQR();
      for (const max of [1024, 640, 1600]) {
        const text = jsqrDecode(image, image.naturalWidth, image.naturalHeight, max, 'attemptBoth');
        if (text) return text;
      }
      return null;
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  ui.photo.addEventListener('change', async () => {
    const file = ui.photo.files && ui.photo.files[0];
    if (!file) return;
    let text = null;
    try {
      text = await decodePhoto(file);
    } catch (e) {
      text = null;
    }
    ui.photo.value = '';
    if (text) checkIn({ code: text.trim(), via: 'scan' });
    else {
      show('refused', t('no_code_in_photo'));
      beep('refused');
    }
  });

  /* ---------- buttons, network state, timers ---------- */

  ui.confirmVisitor.addEventListener('click', () => {
    const scan = visitorScan;
    ui.confirmVisitor.hidden = true;
    if (scan) confirmVisitor(scan);
  });
  ui.undo.addEventListener('click', undoLast);
  ui.syncNow.addEventListener('click', () => syncPending());

  function renderNet() {
    const state = !isOnline() ? 'offline' : serverReachable ? 'online' : 'unreachable';
    ui.net.dataset.state = state;
    ui.net.textContent = t(state);
  }

  self.addEventListener('online', () => {
    renderNet();
    syncPending();
    refreshStatus();
  });
  self.addEventListener('offline', () => {
    renderNet();
    if (lastStatus) ui.countsNote.textContent = t('as_of', { time: clock(lastStatusAt) });
  });

  setInterval(() => {
    if (!document.hidden) refreshStatus();
  }, POLL_MS);
  setInterval(() => {
    if (isOnline()) syncPending();
  }, RETRY_MS);

  /* ---------- offline copy of this page ---------- */

  function registerServiceWorker() {
    if (!('serviceWorker' in navigator) || !root.dataset.sw) return;
    navigator.serviceWorker.register(root.dataset.sw, { scope: root.dataset.swScope })
      .then(() => navigator.serviceWorker.ready)
      .then((registration) => {
        if (!registration.active) return;
        const channel = new MessageChannel();
        channel.port1.onmessage = (event) => {
          if (event.data && event.data.cached) {
            root.dataset.offline = 'ready';
            ui.offlineReady.hidden = false;
          }
        };
        registration.active.postMessage({ type: 'cache-page', url: location.href }, [channel.port2]);
      })
      .catch(() => { /* no offline copy; everything else still works */ });
  }

  /* ---------- start ---------- */

  renderNet();
  // Focus the entry box for a desk's USB scanner, but not on a phone, where it opens the keyboard.
  if (self.matchMedia && matchMedia('(pointer: fine)').matches) ui.entry.focus();
  showSavedStatus();
  Queue.all().then((items) => {
    pending = items;
    renderPending();
    if (items.length && isOnline()) syncPending();
  });
  refreshStatus();
  registerServiceWorker();
  if (cameraWanted()) startCamera();
  root.dataset.ready = '1';
})();
