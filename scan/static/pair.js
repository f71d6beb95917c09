/*
 * The pairing page (templates/scan/pair.html): a helper's phone types the code the secretary
 * shows, or reads the pairing QR with its camera, and keeps the device token it receives
 * (device.js). Then it goes on: to ?next= (a scanner page of this site) or to the device's
 * own page with its branch's open meetings.
 */

import { Camera } from './camera.js';
import { loadDevice, pairWith, parsePairing } from './device.js';
import { dataJson, translator } from './ui.js';

const root = document.getElementById('pair');

if (root) start(root);

function start(root) {
  const t = translator(dataJson(root, 'strings', {}));
  const $ = (id) => document.getElementById(id);
  const form = $('pair-form');
  const input = $('code');
  const result = $('pair-result');
  const button = $('camera');
  const note = $('camera-note');

  function say(kind, text) {
    result.dataset.kind = kind;
    result.textContent = text;
  }

  /** Where to go once paired: a scanner page of this site named by ?next=, else the device page. */
  function destination() {
    const next = new URLSearchParams(location.search).get('next') || '';
    return /^\/scan\/meetings\/\d+$/.test(next) ? next : root.dataset.home;
  }

  let busy = false;

  /** Pair with a code; elsewhere is the address of another installation named by its QR. */
  async function pair(code, elsewhere) {
    if (busy) return;
    busy = true;
    say('busy', t('pairing'));
    try {
      const outcome = await pairWith(root.dataset.api, code);
      if (outcome.ok) {
        say('ok', t('paired', { name: outcome.device.name, unit: outcome.device.unit }));
        root.dataset.paired = '1';
        camera.stop();
        location.assign(destination());
        return;
      }
      // A code made by another installation (its address is in the QR) means nothing here.
      say('refused', elsewhere && outcome.reason === 'pairing_invalid'
        ? t('elsewhere', { url: elsewhere })
        : outcome.message || t('server_error', { code: outcome.status }));
    } catch (e) {
      say('refused', t('unreachable'));
    } finally {
      busy = false;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const code = input.value.trim();
    if (code) pair(code);
  });

  const camera = new Camera({
    video: $('video'),
    viewfinder: $('viewfinder'),
    decoderUrl: root.dataset.decoder,
    onCode(text) {
      const pairing = parsePairing(text.trim());
      if (!pairing) {
        note.textContent = t('not_pairing');
        return;
      }
      input.value = pairing.code;
      pair(pairing.code, pairing.here ? '' : pairing.url);
    },
    onState(state) {
      if (state === 'on') button.textContent = t('stop_camera');
      else if (state === 'off') button.textContent = t('start_camera');
      note.textContent = {
        starting: t('camera_starting'), on: t('camera_on'), unavailable: t('camera_unavailable'),
        decoder_missing: t('decoder_missing'),
      }[state] || '';
    },
  });

  button.addEventListener('click', () => {
    if (camera.scanning) camera.stop();
    else camera.start();
  });

  const current = loadDevice();
  if (current) {
    const line = $('current');
    line.textContent = t('already_paired', { name: current.name, unit: current.unit });
    line.hidden = false;
  }
  root.dataset.ready = '1';
}
