// Hospeda's service worker (served as /sw.js; __VERSION__ is a digest of the static files).
//
// - Caches are versioned: "shell" (the offline page and static files) and "pages" (a
//   short allow-list of read-only pages: services, invoices, DNS status).
// - Navigations go to the network first; without one, the page's last copy (marked
//   with the time it was fetched, shown as "dados de HH:MM"), or the offline page.
// - Sign-in, payment, shop, staff and account pages are never kept; nothing is
//   queued offline (no request that moves money or provisions waits to be replayed).
// - The cached pages belong to one person: they are dropped at sign-out.
// - A new version waits until the person accepts the update banner (pwa.js).
'use strict';

const VERSION = '__VERSION__';
const SHELL = `hospeda-shell-${VERSION}`;
const PAGES = `hospeda-pages-${VERSION}`;
const CACHED_AT = 'X-Hospeda-Cached-At';

const SHELL_FILES = [
  '/offline',
  '/manifest.webmanifest',
  '/static/css/pwa.css',
  '/static/js/pwa.js',
  '/static/js/http.js',
  '/static/js/passkeys.js',
  '/static/img/icon-192.png',
  '/static/img/icon-512.png',
];
// the web app's own files: kept when they exist (a missing one must not break install)
const SHELL_EXTRAS = ['/static/css/app.css', '/static/js/app.js', '/static/img/hospeda.svg'];

// read-only pages readable offline
const READABLE = [
  /^\/app\/servicos\/?$/,
  /^\/app\/servicos\/[0-9a-f-]{36}\/?$/,
  /^\/app\/faturas\/?$/,
  /^\/app\/faturas\/[0-9a-f-]{36}\/?$/,
  /^\/app\/dns\/?$/,
  /^\/app\/dns\/[a-z0-9.-]+\/?$/,
];
// never kept, whatever READABLE says (defence in depth)
const NEVER = [
  /^\/entrar/, /^\/sair/, /^\/cadastro/, /^\/conta\//, /^\/equipe/, /^\/app\/loja/,
  /^\/app\/pagamento/, /\/pagar\/?$/, /^\/app\/seguranca/, /^\/api\//,
];

const isReadable = (path) => READABLE.some((re) => re.test(path)) && !NEVER.some((re) => re.test(path));

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL);
    await cache.addAll(SHELL_FILES.map((url) => new Request(url, { cache: 'reload' })));
    await Promise.all(SHELL_EXTRAS.map(async (url) => {
      try {
        const response = await fetch(url, { cache: 'reload' });
        if (response.ok) await cache.put(url, response);
      } catch (error) { /* offline while installing: fetched on first use */ }
    }));
  })());
  // no skipWaiting here: the person chooses when to switch (update banner)
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names
      .filter((name) => name.startsWith('hospeda-') && name !== SHELL && name !== PAGES)
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  const kind = event.data && event.data.type;
  if (kind === 'skip-waiting') self.skipWaiting();
  if (kind === 'logout') event.waitUntil(forgetPages());
});

async function forgetPages() {
  const names = await caches.keys();
  await Promise.all(names.filter((n) => n.startsWith('hospeda-pages-')).map((n) => caches.delete(n)));
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && request.method === 'POST' && url.pathname.startsWith('/sair')) {
    event.waitUntil(forgetPages()); // signing out: this person's pages go
    return;
  }
  if (request.method !== 'GET') return; // never answered from a cache, never queued
  if (request.mode === 'navigate') {
    event.respondWith(navigate(request, url));
  } else if (url.pathname.startsWith('/static/')) {
    event.respondWith(staticFile(request));
  }
  // everything else (the API, the live stream) goes to the network untouched
});

async function navigate(request, url) {
  try {
    const response = await fetch(request);
    // pages say no-store to HTTP caches; this copy is the app's own, for the allow-list only,
    // and goes at sign-out
    if (isReadable(url.pathname) && response.ok && !response.redirected && response.type === 'basic') {
      await keep(url, response.clone());
    }
    return response;
  } catch (error) {
    const copy = isReadable(url.pathname) ? await caches.match(url.pathname, { cacheName: PAGES }) : undefined;
    if (copy) return copy;
    const offline = await caches.match('/offline', { cacheName: SHELL });
    return offline || new Response('Sem conexão / Offline', { status: 503, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  }
}

// a copy of the page, its body marked with when it was fetched (pwa.js shows the badge)
async function keep(url, response) {
  const at = new Date().toISOString();
  const html = (await response.text()).replace(/<body(\s|>)/, `<body data-cached-at="${at}"$1`);
  const headers = new Headers(response.headers);
  headers.set(CACHED_AT, at);
  headers.delete('Content-Length');
  const cache = await caches.open(PAGES);
  await cache.put(url.pathname, new Response(html, { status: 200, headers }));
}

async function staticFile(request) {
  const cached = await caches.match(request, { cacheName: SHELL });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(SHELL);
    await cache.put(request, response.clone());
  }
  return response;
}

// --- push -------------------------------------------------------------------------------

self.addEventListener('push', (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (error) { data = { body: event.data.text() }; }
  const title = data.title || 'Hospeda';
  const options = {
    body: data.body || '',
    tag: data.tag || undefined,
    icon: '/static/img/icon-192.png',
    badge: '/static/img/icon-192.png',
    lang: 'pt-BR',
    data: { url: safeUrl(data.url) },
    requireInteraction: data.urgency === 'high',
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

function safeUrl(value) {
  try {
    const url = new URL(value || '/app/notificacoes', self.location.origin);
    return url.origin === self.location.origin ? url.pathname + url.search + url.hash : '/app/notificacoes';
  } catch (error) {
    return '/app/notificacoes';
  }
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = (event.notification.data && event.notification.data.url) || '/app/notificacoes';
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const client of windows) {
      if (new URL(client.url).origin === self.location.origin && 'focus' in client) {
        await client.focus();
        if ('navigate' in client) await client.navigate(target);
        return;
      }
    }
    await self.clients.openWindow(target);
  })());
});

// the push service replaced the subscription: subscribe again and tell the server
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil((async () => {
    const old = event.oldSubscription;
    const key = old && old.options ? old.options.applicationServerKey : null;
    const fresh = event.newSubscription
      || (key ? await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }) : null);
    if (!fresh) return;
    const csrf = await csrfToken();
    if (!csrf) { // no way to sign the request here: the next page load re-registers (pwa.js)
      const windows = await self.clients.matchAll({ type: 'window' });
      windows.forEach((client) => client.postMessage({ type: 'push-resubscribe' }));
      return;
    }
    await fetch('/api/v1/push/subscriptions', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(fresh.toJSON()),
    });
  })());
});

async function csrfToken() {
  if (!self.cookieStore) return null;
  for (const name of ['__Host-hospeda_csrf', 'hospeda_csrf']) {
    const cookie = await self.cookieStore.get(name);
    if (cookie) return cookie.value;
  }
  return null;
}
