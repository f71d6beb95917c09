/*
 * Small pieces the scanner's pages share: translated strings from a data-* attribute, building
 * elements, clock times in the organisation's zone, nonces, and the sounds of an answer.
 * Native ES module; no build step.
 */

/** A function that looks up a translated string and fills its {name} fields. */
export function translator(strings) {
  return function t(key, fields) {
    const text = strings[key] || key;
    if (!fields) return text;
    return text.replace(/\{(\w+)\}/g, (all, name) => (name in fields ? String(fields[name]) : all));
  };
}

/** The JSON of a data-* attribute, or the fallback when it is missing or broken. */
export function dataJson(node, name, fallback) {
  try {
    return JSON.parse(node.dataset[name] || 'null') || fallback;
  } catch (e) {
    return fallback;
  }
}

export function el(tag, props, ...children) {
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

/** A clock for the organisation's zone: offsetMin minutes from UTC (the device's when null). */
export function clockIn(offsetMin) {
  const known = offsetMin !== null && offsetMin !== undefined && !Number.isNaN(offsetMin);
  /** "HH:MM:SS" of an ISO time (now when none). */
  function clock(iso) {
    const date = iso ? new Date(iso) : new Date();
    if (Number.isNaN(date.getTime())) return '';
    if (!known) return date.toLocaleTimeString();
    return new Date(date.getTime() + offsetMin * 60000).toISOString().slice(11, 19);
  }
  /** "YYYY-MM-DD HH:MM" of an ISO time. */
  clock.dateTime = function (iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return '';
    if (!known) return date.toLocaleString();
    return new Date(date.getTime() + offsetMin * 60000).toISOString().slice(0, 16).replace('T', ' ');
  };
  return clock;
}

/** 18 random bytes as URL-safe base64: 24 characters of [A-Za-z0-9_-]. */
export function newNonce() {
  const bytes = new Uint8Array(18);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
}

export function shortCode(code) {
  return code.length > 36 ? code.slice(0, 20) + '…' + code.slice(-8) : code;
}

export function isOnline() {
  return navigator.onLine !== false;
}

/* ---------- sound and vibration ---------- */

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

/** Browsers start sound only after a gesture; a USB scanner's keystrokes count as one. */
export function unlockSoundOnFirstGesture() {
  document.addEventListener('pointerdown', audioContext, { once: true });
  document.addEventListener('keydown', audioContext, { once: true });
}

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

/** ok: one high beep; saved: one middle beep; anything refused or flagged: two low beeps. */
export function beep(kind) {
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
