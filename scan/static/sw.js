/*
 * Service worker of the scanner pages, served at /scan/sw.js with scope /scan/.
 *
 * It lets a secretary (or a paired device) reopen a meeting's scanner without a network:
 *  - scanner pages (/scan/meetings/<id>) are fetched from the network first and the copy is
 *    kept; without a network (or after a few seconds of a dead one) the kept copy is served;
 *  - the scanner's files (/scan/static/*: the page's ES modules, its stylesheet) and the
 *    site's stylesheet are kept the same way; every module the page imports is in PRECACHE,
 *    so an offline reload finds them all; the vendored decoder is served from the copy first
 *    (it only changes with VERSION);
 *  - nothing else is touched: /api/ requests and every other page go straight to the network
 *    and are never stored. The page keeps its unsent scans (queue.js) and the meeting's
 *    expected list (lists.js) itself, in IndexedDB.
 */
'use strict';

const VERSION = 'v3';
const PREFIX = 'qrservice-scan-';
const STATIC_CACHE = PREFIX + 'static-' + VERSION;
const PAGE_CACHE = PREFIX + 'pages';
const MAX_PAGES = 20;
const NETWORK_WAIT_MS = 4000; // then a kept copy is served, while the network may still answer

const SCOPE = new URL(self.registration.scope); // e.g. https://host/scan/
const SITE = new URL('../', SCOPE); // the application's root, e.g. https://host/
const PAGES = SCOPE.pathname + 'meetings/';
const STATIC = SCOPE.pathname + 'static/';
const VENDOR = STATIC + 'vendor/';
const API = SITE.pathname + 'api/';
const SITE_CSS = SITE.pathname + 'static/css/app.css';
// The scanner page's modules: scanner.js and everything it imports.
const MODULES = [
  'scanner.js', 'api.js', 'camera.js', 'device.js', 'idb.js', 'lists.js', 'queue.js', 'ui.js',
];
const PRECACHE = [
  ...MODULES.map((name) => STATIC + name),
  STATIC + 'scanner.css',
  VENDOR + 'jsQR.js',
  SITE_CSS,
].map((path) => new URL(path, SCOPE.origin).href);

function isPage(url) {
  return url.origin === SCOPE.origin && url.pathname.startsWith(PAGES);
}

function isStatic(url) {
  return url.origin === SCOPE.origin && (url.pathname.startsWith(STATIC) || url.pathname === SITE_CSS);
}

/** One kept copy per page, whatever its query string. */
function pageKey(url) {
  return url.origin + url.pathname;
}

function keepablePage(response) {
  return response.ok && response.type === 'basic' && !response.redirected &&
    (response.headers.get('Content-Type') || '').startsWith('text/html');
}

function keepableFile(response) {
  return response.ok && response.type === 'basic';
}

function offlinePage() {
  const body = '<!doctype html><html><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<title>离线 · Offline</title></head><body>' +
    '<h1>离线 · Offline</h1>' +
    '<p>本设备尚未保存此页面,请在联网后打开。</p>' +
    '<p>This page was not saved on this device. Open it again when the network is back.</p>' +
    '</body></html>';
  return new Response(body, { status: 503, headers: { 'Content-Type': 'text/html; charset=utf-8' } });
}

async function trimPages(cache) {
  const keys = await cache.keys();
  for (const request of keys.slice(0, Math.max(0, keys.length - MAX_PAGES))) await cache.delete(request);
}

/** Fetch and keep a good answer; resolves to the network's response (kept or not). */
function fetchAndKeep(request, cacheName, key, keepable) {
  return fetch(request).then(async (response) => {
    if (keepable(response)) {
      const cache = await caches.open(cacheName);
      await cache.put(key, response.clone());
      if (cacheName === PAGE_CACHE) await trimPages(cache);
    }
    return response;
  });
}

/** The network's answer; the kept copy when the network fails or is slower than the wait. */
async function networkFirst(network, cacheName, key, fallback) {
  const cache = await caches.open(cacheName);
  const kept = await cache.match(key, { ignoreVary: true });
  if (!kept) return network.catch(fallback);
  const late = new Promise((resolve) => setTimeout(resolve, NETWORK_WAIT_MS, null));
  try {
    return (await Promise.race([network, late])) || kept;
  } catch (e) {
    return kept;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(STATIC_CACHE);
  const kept = await cache.match(request.url, { ignoreVary: true });
  return kept || fetchAndKeep(request, STATIC_CACHE, request.url, keepableFile);
}

/** Keep the scanner's files; true when every one of them is kept. */
async function keepFiles() {
  const cache = await caches.open(STATIC_CACHE);
  const results = await Promise.all(PRECACHE.map(async (href) => {
    if (await cache.match(href, { ignoreVary: true })) return true;
    try {
      const response = await fetch(href, { credentials: 'same-origin', cache: 'no-cache' });
      if (!keepableFile(response)) return false;
      await cache.put(href, response);
      return true;
    } catch (e) {
      return false;
    }
  }));
  return results.every(Boolean);
}

/** Asked by the scanner page: keep this page (and the files) for offline use. */
async function keepPage(href) {
  let url;
  try {
    url = new URL(href);
  } catch (e) {
    return false;
  }
  if (!isPage(url)) return false;
  const filesKept = await keepFiles();
  const cache = await caches.open(PAGE_CACHE);
  const key = pageKey(url);
  if (!(await cache.match(key, { ignoreVary: true }))) {
    try {
      const response = await fetch(key, { credentials: 'same-origin', cache: 'no-store' });
      if (!keepablePage(response)) return false;
      await cache.put(key, response);
      await trimPages(cache);
    } catch (e) {
      return false;
    }
  }
  return filesKept;
}

self.addEventListener('install', (event) => {
  event.waitUntil(keepFiles().catch(() => false).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== STATIC_CACHE && name !== PAGE_CACHE) {
        await caches.delete(name);
      }
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== SCOPE.origin || url.pathname.startsWith(API)) return; // never kept

  if (request.mode === 'navigate' && isPage(url)) {
    const key = pageKey(url);
    const network = fetchAndKeep(request, PAGE_CACHE, key, keepablePage);
    event.waitUntil(network.then(() => undefined, () => undefined));
    event.respondWith(networkFirst(network, PAGE_CACHE, key, offlinePage));
    return;
  }
  if (isStatic(url)) {
    if (url.pathname.startsWith(VENDOR)) {
      event.respondWith(cacheFirst(request));
      return;
    }
    const network = fetchAndKeep(request, STATIC_CACHE, url.href, keepableFile);
    event.waitUntil(network.then(() => undefined, () => undefined));
    event.respondWith(networkFirst(network, STATIC_CACHE, url.href, () => Response.error()));
  }
});

self.addEventListener('message', (event) => {
  const data = event.data || {};
  const port = event.ports && event.ports[0];
  if (data.type !== 'cache-page') return;
  event.waitUntil(keepPage(data.url).catch(() => false).then((cached) => {
    if (port) port.postMessage({ cached });
  }));
});
