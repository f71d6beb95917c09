/*
 * The scanner page of one meeting (templates/scan/scanner.html), for an officer (mode
 * "officer": login session and CSRF token) or a paired device (mode "device": its bearer
 * token; the page came without any meeting data and reads it over the API).
 *
 * Codes arrive from the camera (camera.js), from a USB/Bluetooth scanner typing into the entry
 * box, or from a photo. Each becomes one check-in with its own nonce, sent to the JSON API
 * (api.js, scan/api.py). A scan that cannot be sent is kept (queue.js) and sent with
 * POST {api}/sync when the network is back; it leaves the queue only once the server's answer
 * for its nonce has arrived. Offline, the meeting's kept expected list (lists.js) says at once
 * whose card it is ("王洋, pending sync") or flags it; the server decides when it syncs.
 * A device that was unpaired keeps its queue; scanning a pairing QR here pairs it again.
 * The service worker (sw.js) keeps this page and these modules openable without a network.
 */

import { createClient, NetworkError, UNPAIRED } from './api.js';
import { Camera, decodePhoto } from './camera.js';
import { loadDevice, pairWith, parsePairing } from './device.js';
import { judge, keepList, loadList, noteAttendance } from './lists.js';
import { Queue } from './queue.js';
import {
  beep, clockIn, dataJson, el, isOnline, newNonce, shortCode, translator, unlockSoundOnFirstGesture,
} from './ui.js';

const root = document.getElementById('scanner');

if (root) start(root);

function start(root) {
  const MODE = root.dataset.mode === 'device' ? 'device' : 'officer';
  const API = root.dataset.apiBase;
  const PAIR_API = root.dataset.pairApi;
  const t = translator(dataJson(root, 'strings', {}));
  const STATUSES = Object.assign(dataJson(root, 'statuses', {}), { undone: t('undone') });
  const KINDS = dataJson(root, 'kinds', {});
  const clock = clockIn(root.dataset.utcOffset === undefined ? null : Number(root.dataset.utcOffset));

  const POLL_MS = 5000; // live counts, while online
  const LIST_MS = 60000; // the kept expected list, while online
  const RETRY_MS = 10000; // sending the saved scans again
  const REPEAT_MS = 3000; // the same code seen again within this time is not sent again
  const SYNC_TIMEOUT_MS = 30000; // a batch of saved scans on a slow line
  const BATCH = 100; // scans per sync request (the server takes up to 500)
  const LOG_MAX = 100;
  const CAMERA_PREF = 'qrservice-scanner-camera';
  const STATUS_KEY = 'qrservice-scanner-status:' + API;

  const $ = (id) => document.getElementById(id);
  const ui = {
    title: $('meeting-title'), sub: $('meeting-sub'), notOpen: $('not-open'),
    net: $('net'), offlineReady: $('offline-ready'), relogin: $('relogin'),
    unpaired: $('unpaired'), unpairedText: $('unpaired-text'), listNote: $('list-note'),
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

  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const client = createClient({ mode: MODE, csrfToken: csrfMeta ? csrfMeta.content : '', onReachable: reachable });

  function statusLabel(status) {
    return STATUSES[status] || status;
  }

  /* ---------- who is scanning: the login, or this device's pairing ---------- */

  function needLogin() {
    ui.relogin.hidden = false;
  }

  /** The device cannot scan until it is paired (again); its saved scans stay. */
  function needPairing(key) {
    ui.unpairedText.textContent = t(key);
    ui.unpaired.hidden = false;
    root.dataset.unpaired = key;
  }

  function paired() {
    ui.unpaired.hidden = true;
    delete root.dataset.unpaired;
  }

  /** A 401: what to tell and whom; the message for the list of saved scans. */
  function refusedAuth(answer) {
    const reason = (answer.data && answer.data.reason) || '';
    if (MODE === 'officer') {
      needLogin();
      return t('login_expired');
    }
    const key = reason === 'device_expired' ? 'device_expired' : UNPAIRED.has(reason) ? 'device_unpaired' : 'not_paired';
    needPairing(key);
    return t(key);
  }

  async function pairFromCode(pairing) {
    if (MODE === 'officer') {
      show('error', t('pairing_officer'));
      beep('refused');
      return;
    }
    show('saved', t('pairing'));
    let outcome;
    try {
      outcome = await pairWith(PAIR_API, pairing.code);
    } catch (e) {
      show('error', t('unreachable'));
      beep('refused');
      return;
    }
    if (!outcome.ok) {
      // A code made by another installation (its address is in the QR) means nothing here.
      const elsewhere = !pairing.here && outcome.reason === 'pairing_invalid';
      show('refused', elsewhere ? t('pairing_elsewhere', { url: pairing.url })
        : outcome.message || t('server_error', { code: outcome.status }));
      beep('refused');
      return;
    }
    paired();
    show('ok', t('paired', { name: outcome.device.name, unit: outcome.device.unit }));
    beep('ok');
    syncPending();
    refreshStatus();
    refreshList();
  }

  /* ---------- the answer panel and the log ---------- */

  let visitorScan = null;
  let shownAt = 0;

  /** kind: ok, refused, ask (a visitor to confirm), saved, flagged (saved, but doubtful),
   * undone or error. */
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

  /* ---------- the meeting, counts and lists from the server ---------- */

  let lastStatus = null;
  let lastStatusAt = null; // when the server gave it (ISO time)

  function renderMeeting(meeting) {
    if (!meeting) return;
    ui.notOpen.hidden = meeting.status === 'open';
    if (MODE !== 'device') return; // the officer's page came with it
    ui.title.textContent = meeting.title;
    document.title = meeting.title + ' · ' + document.title.split(' · ').slice(-1)[0];
    const when = clock.dateTime(meeting.starts_at) + '–' + clock.dateTime(meeting.ends_at).slice(11);
    ui.sub.textContent = [KINDS[meeting.kind] || meeting.kind, meeting.unit, when, meeting.place]
      .filter(Boolean).join(' · ');
  }

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
    renderMeeting(status.meeting);
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
      const answer = await client.get(API + '/status');
      if (answer.status === 200) {
        if (MODE === 'device') paired();
        renderStatus(answer.data, null);
        try {
          localStorage.setItem(STATUS_KEY, JSON.stringify({ at: lastStatusAt, status: answer.data }));
        } catch (e) { /* only a convenience */ }
      } else if (answer.status === 401) {
        refusedAuth(answer);
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

  /* ---------- the expected list kept for offline use ---------- */

  let list = null; // {api, at, meeting, members}

  function renderListNote() {
    if (!list) return;
    ui.listNote.textContent = t('list_note', { n: list.members.length, time: clock(list.at) });
    root.dataset.list = String(list.members.length);
  }

  let listBusy = false;

  async function refreshList() {
    if (!isOnline() || listBusy) return;
    listBusy = true;
    try {
      const answer = await client.get(API + '/expected', SYNC_TIMEOUT_MS);
      if (answer.status === 200 && Array.isArray(answer.data.members)) {
        list = { api: API, at: answer.data.at, meeting: answer.data.meeting, members: answer.data.members };
        for (const scan of pending) {
          if (scan.api === API && scan.member) noteAttendance(list, scan.member, 'pending');
        }
        renderMeeting(list.meeting);
        renderListNote();
        await keepList(list);
      }
    } catch (e) {
      /* offline: the kept list stays */
    } finally {
      listBusy = false;
    }
  }

  function noted(memberId, status) {
    if (!list || !memberId) return;
    noteAttendance(list, memberId, status);
    keepList(list).catch(() => {});
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
    if (MODE === 'device' && !loadDevice()) {
      needPairing('not_paired');
      return keep(scan);
    }
    let answer;
    try {
      answer = await client.post(API + '/checkins', scanBody(scan));
    } catch (e) {
      if (e instanceof NetworkError) return keep(scan);
      throw e;
    }
    if (answer.status === 200) {
      if (pending.length) syncPending();
      return announce(scan, answer.data);
    }
    if (answer.status === 401) {
      refusedAuth(answer);
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
    if (answer.status === 'ok' && answer.member) noted(answer.member.id, answer.attendance.status);
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

  /** What the kept list says of a scan, shown at once: [panel kind, text, detail]. */
  async function offlineVerdict(scan) {
    if (scan.code === undefined) {
      scan.member = scan.member_id;
      return ['saved', t('pending_name', { name: scan.label || '#' + scan.member_id }), ''];
    }
    if (!list) return ['saved', t('saved'), scanLabel(scan)];
    const { verdict, member } = await judge(list, scan.code);
    scan.verdict = verdict;
    if (member) {
      scan.label = member.name;
      scan.member = member.id;
    }
    const detail = member ? [member.number, member.unit].filter(Boolean).join(' · ') : shortCode(scan.code);
    if (verdict === 'current') return ['saved', t('pending_name', { name: member.name }), detail];
    if (verdict === 'pending') return ['saved', t('already_saved'), member.name + ' · ' + detail];
    if (verdict === 'checked_in') return ['flagged', t('offline_checked_in', { name: member.name }), detail];
    if (verdict === 'superseded') return ['flagged', t('offline_superseded', { name: member.name }), detail];
    return ['flagged', t('offline_' + verdict), detail];
  }

  /** Keep a scan that could not be sent, until the server has answered for its nonce. */
  async function keep(scan) {
    if (pending.some((other) => sameScan(other, scan))) {
      show('saved', t('already_saved'), scanLabel(scan));
      beep('saved');
      return 'saved';
    }
    const [kind, text, detail] = await offlineVerdict(scan);
    // Sent later, the server takes the device's time of the scan (client_time) for "late".
    scan.via = 'offline';
    scan.kept_at = new Date().toISOString();
    pending.push(scan);
    renderPending();
    const where = await Queue.put(scan);
    if (kind === 'saved' && scan.member) noted(scan.member, 'pending');
    show(kind, where === 'memory' ? t('storage_failed') : text, detail);
    ui.result.dataset.verdict = scan.verdict || '';
    beep(kind === 'saved' ? 'saved' : 'refused');
    return 'saved';
  }

  function renderPending() {
    const mine = pending.filter((scan) => scan.api === API);
    ui.pending.hidden = mine.length === 0;
    ui.pendingCount.textContent = String(mine.length);
    ui.pendingList.replaceChildren(...mine.map((scan) => el('li', { 'data-nonce': scan.nonce, 'data-verdict': scan.verdict || null },
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
    if (MODE === 'device' && !loadDevice()) {
      needPairing('not_paired');
      syncState('failed', t('not_paired'));
      return;
    }
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
        refreshList();
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
      answer = await client.post(api + '/sync', { scans: batch.map(scanBody) }, SYNC_TIMEOUT_MS);
    } catch (e) {
      if (e instanceof NetworkError) return t('send_failed');
      throw e;
    }
    if (answer.status === 401) return refusedAuth(answer);
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
      answer = await client.post(API + '/undo', {});
    } catch (e) {
      show('error', t('unreachable'));
      return;
    }
    const data = answer.data || {};
    if (answer.status === 401) refusedAuth(answer);
    if (answer.status === 200 && data.status === 'ok') {
      show('undone', data.message, data.member ? memberLine(data.member) : '');
      beep('saved');
      renderCounts(data.counts);
      if (data.member) noted(data.member.id, null);
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
    const pairing = parsePairing(code);
    if (pairing) pairFromCode(pairing);
    else checkIn({ code, via });
  }

  /** A card URL (http(s)://…/c/<token>), a bare token, or a pairing code's JSON. */
  function looksLikeCode(text) {
    return /^https?:\/\/\S+$/i.test(text) || /^\d{1,3}\.[A-Za-z0-9_.-]{4,250}$/.test(text) ||
      /^\{.*\}$/.test(text);
  }

  function showMatches(members, note) {
    ui.lookupNote.textContent = note || (members.length ? '' : t('no_match'));
    ui.lookup.replaceChildren(...members.map((m) => personRow(m,
      m.checked_in ? el('span', { class: 'tag' }, t('checked_in')) : checkInButton(m))));
  }

  /** Offline: the kept expected list (or the last missing list) by name or number. */
  function searchOffline(q) {
    const needle = q.toLowerCase();
    const people = list
      ? list.members.filter((m) => !['present', 'late', 'made_up', 'visitor', 'pending'].includes(m.attendance))
      : (lastStatus && lastStatus.missing) || [];
    const found = people.filter((m) =>
      m.name.toLowerCase().includes(needle) || String(m.number).includes(needle));
    showMatches(found.slice(0, 20), t('offline_search') + (found.length ? '' : ' ' + t('no_match')));
  }

  async function lookup(q) {
    if (!isOnline()) return searchOffline(q);
    ui.lookupNote.textContent = t('searching');
    try {
      const answer = await client.get(API + '/lookup?q=' + encodeURIComponent(q));
      if (answer.status === 200) showMatches(answer.data.members || []);
      else {
        if (answer.status === 401) refusedAuth(answer);
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

  /* ---------- the camera and photos ---------- */

  const camera = new Camera({
    video: ui.video,
    viewfinder: ui.viewfinder,
    decoderUrl: root.dataset.decoder,
    onCode: (text) => onCode(text, 'scan'),
    onState: cameraState,
  });

  function cameraNote(text) {
    ui.cameraNote.textContent = text || '';
  }

  function cameraState(state) {
    if (state === 'starting') cameraNote(t('camera_starting'));
    else if (state === 'unavailable') cameraNote(t('camera_unavailable'));
    else if (state === 'decoder_missing') cameraNote(t('decoder_missing'));
    else if (state === 'on') {
      root.dataset.camera = 'on';
      ui.camera.textContent = t('stop_camera');
      cameraNote(t('camera_on'));
    } else if (state === 'off') {
      delete root.dataset.camera;
      ui.camera.textContent = t('start_camera');
      cameraNote('');
    }
  }

  async function startCamera() {
    ui.camera.disabled = true;
    try {
      await camera.start();
      if (camera.scanning) {
        try { localStorage.setItem(CAMERA_PREF, 'on'); } catch (e) { /* not remembered */ }
      }
    } finally {
      ui.camera.disabled = false;
    }
  }

  function stopCamera(remember) {
    camera.stop();
    if (remember) {
      try { localStorage.setItem(CAMERA_PREF, 'off'); } catch (e) { /* not remembered */ }
    }
  }

  function cameraWanted() {
    try {
      return localStorage.getItem(CAMERA_PREF) === 'on';
    } catch (e) {
      return false;
    }
  }

  ui.camera.addEventListener('click', () => {
    if (camera.scanning) stopCamera(true);
    else startCamera();
  });

  // Give the camera back while the page is hidden; take it again on return if it was on.
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      if (camera.scanning) stopCamera(false);
    } else if (cameraWanted()) {
      startCamera();
    }
  });

  ui.photo.addEventListener('change', async () => {
    const file = ui.photo.files && ui.photo.files[0];
    if (!file) return;
    let text = null;
    try {
      text = await decodePhoto(file, root.dataset.decoder);
    } catch (e) {
      text = null;
    }
    ui.photo.value = '';
    if (text) {
      const pairing = parsePairing(text.trim());
      if (pairing) pairFromCode(pairing);
      else checkIn({ code: text.trim(), via: 'scan' });
    } else {
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

  let serverReachable = true;

  function reachable(yes) {
    if (serverReachable === yes) return;
    serverReachable = yes;
    renderNet();
  }

  function renderNet() {
    const state = !isOnline() ? 'offline' : serverReachable ? 'online' : 'unreachable';
    ui.net.dataset.state = state;
    ui.net.textContent = t(state);
  }

  self.addEventListener('online', () => {
    renderNet();
    syncPending();
    refreshStatus();
    refreshList();
  });
  self.addEventListener('offline', () => {
    renderNet();
    if (lastStatus) ui.countsNote.textContent = t('as_of', { time: clock(lastStatusAt) });
  });

  setInterval(() => {
    if (!document.hidden) refreshStatus();
  }, POLL_MS);
  setInterval(() => {
    if (!document.hidden) refreshList();
  }, LIST_MS);
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

  unlockSoundOnFirstGesture();
  renderNet();
  // Focus the entry box for a desk's USB scanner, but not on a phone, where it opens the keyboard.
  if (self.matchMedia && matchMedia('(pointer: fine)').matches) ui.entry.focus();
  if (MODE === 'device' && !loadDevice()) needPairing('not_paired');
  showSavedStatus();
  const ready = Promise.all([
    loadList(API).then((kept) => {
      if (kept && !list) {
        list = kept;
        if (MODE === 'device') renderMeeting(kept.meeting);
        renderListNote();
      }
    }).catch(() => {}),
    Queue.all().then((items) => {
      pending = items;
      renderPending();
      if (items.length && isOnline()) syncPending();
    }),
  ]);
  refreshStatus();
  refreshList();
  registerServiceWorker();
  if (cameraWanted()) startCamera();
  ready.finally(() => {
    root.dataset.ready = '1';
  });
}
