/*
 * A paired phone's start page (templates/scan/device.html): the device's name and branch and
 * its branch's open meetings, read with its token (GET /api/v1/device), each a link to that
 * meeting's scanner. Without a token, or with one the server refuses, it says so and links to
 * the pairing page.
 */

import { createClient, NetworkError } from './api.js';
import { forgetDevice, loadDevice } from './device.js';
import { clockIn, dataJson, el, translator } from './ui.js';

const root = document.getElementById('device');

if (root) start(root);

function start(root) {
  const t = translator(dataJson(root, 'strings', {}));
  const KINDS = dataJson(root, 'kinds', {});
  const clock = clockIn(root.dataset.utcOffset === undefined ? null : Number(root.dataset.utcOffset));
  const $ = (id) => document.getElementById(id);
  const name = $('device-name');
  const note = $('device-note');
  const unpaired = $('device-unpaired');
  const meetings = $('meetings');
  const forget = $('forget');
  const client = createClient({ mode: 'device' });

  function notPaired(message) {
    unpaired.querySelector('span').textContent = message || t('not_paired');
    unpaired.hidden = false;
    note.textContent = '';
    root.dataset.state = 'unpaired';
  }

  function meetingItem(m) {
    const when = clock.dateTime(m.starts_at) + '–' + clock.dateTime(m.ends_at).slice(11);
    return el('li', { 'data-meeting-id': m.id },
      el('a', { href: m.scanner, class: 'btn btn-primary' }, m.title), ' ',
      el('small', {}, [KINDS[m.kind] || m.kind, m.unit, when, m.place].filter(Boolean).join(' · ')));
  }

  async function load() {
    const device = loadDevice();
    if (!device) {
      notPaired();
      return;
    }
    name.textContent = t('device', { name: device.name, unit: device.unit });
    forget.hidden = false;
    let answer;
    try {
      answer = await client.get(root.dataset.api);
    } catch (e) {
      note.textContent = e instanceof NetworkError ? t('unreachable') : String(e);
      return;
    }
    if (answer.status === 401) {
      notPaired((answer.data && answer.data.message) || t('not_paired'));
      return;
    }
    if (answer.status !== 200) {
      note.textContent = (answer.data && answer.data.message) || t('server_error', { code: answer.status });
      return;
    }
    const info = answer.data;
    name.textContent = t('device', { name: info.device.name, unit: info.device.unit });
    meetings.replaceChildren(...info.meetings.map(meetingItem));
    note.textContent = info.meetings.length ? '' : t('no_meetings');
    root.dataset.state = 'paired';
  }

  forget.addEventListener('click', () => {
    if (!window.confirm(t('forget_confirm'))) return;
    forgetDevice();
    meetings.replaceChildren();
    name.textContent = '';
    forget.hidden = true;
    notPaired();
  });

  load().finally(() => {
    root.dataset.ready = '1';
  });
}
