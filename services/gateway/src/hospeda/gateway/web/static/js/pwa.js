// The installable app: registers the service worker (/sw.js), shows the update
// banner instead of reloading silently, marks pages read from the offline copy
// ("dados de HH:MM"), drops that copy at sign-out, and offers push after a click.
import { api, el, fromBase64url, t } from '/static/js/http.js';

if (!document.querySelector('link[href="/static/css/pwa.css"]')) {
  document.head.append(el('link', { rel: 'stylesheet', href: '/static/css/pwa.css' }));
}

const banner = document.getElementById('pwa-banner');

function showBanner(text, actions) {
  if (!banner) return;
  banner.replaceChildren(el('span', { role: 'status' }, text), ...actions);
  banner.hidden = false;
}

// --- the service worker and its updates ------------------------------------------------

let reloadOnSwitch = false;

function offerUpdate(worker) {
  const now = el('button', { type: 'button', id: 'pwa-update' }, t('Atualizar agora', 'Update now'));
  const later = el('button', { type: 'button', class: 'pwa-quiet' }, t('Depois', 'Later'));
  now.addEventListener('click', () => {
    reloadOnSwitch = true;
    worker.postMessage({ type: 'skip-waiting' });
  });
  later.addEventListener('click', () => { banner.hidden = true; });
  showBanner(t('Há uma nova versão da Hospeda.', 'A new version of Hospeda is ready.'), [now, later]);
}

async function register() {
  if (!('serviceWorker' in navigator)) return null;
  const registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  if (registration.waiting && navigator.serviceWorker.controller) offerUpdate(registration.waiting);
  registration.addEventListener('updatefound', () => {
    const worker = registration.installing;
    if (!worker) return;
    worker.addEventListener('statechange', () => {
      // a first install has nothing to replace: only a second version asks
      if (worker.state === 'installed' && navigator.serviceWorker.controller) offerUpdate(worker);
    });
  });
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloadOnSwitch) window.location.reload();
  });
  navigator.serviceWorker.addEventListener('message', (event) => {
    if (event.data && event.data.type === 'push-resubscribe') resubscribe();
  });
  return registration;
}

function forgetCachedPages() {
  navigator.serviceWorker?.controller?.postMessage({ type: 'logout' });
}

// signing out (the form in the header) or landing on the sign-in page: this
// browser's copy of the person's pages goes
document.addEventListener('submit', (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && new URL(form.action, location.href).pathname.startsWith('/sair')) {
    forgetCachedPages();
  }
});
if (location.pathname.startsWith('/entrar')) forgetCachedPages();

// --- pages read offline -------------------------------------------------------------------

function markOfflineCopy() {
  const at = document.body.dataset.cachedAt;
  if (!at) return;
  const time = new Date(at).toLocaleTimeString(t('pt-BR', 'en'), { hour: '2-digit', minute: '2-digit' });
  const badge = el('p', { class: 'pwa-badge', id: 'pwa-cached', role: 'status' },
    t(`Sem conexão — dados de ${time}`, `Offline — data from ${time}`));
  (document.getElementById('main') || document.body).prepend(badge);
  // nothing is sent without a connection, and nothing waits to be sent later
  for (const form of document.querySelectorAll('form')) {
    if ((form.method || 'get').toLowerCase() !== 'post') continue;
    form.classList.add('pwa-offline-form');
    for (const button of form.querySelectorAll('button, input[type="submit"]')) button.disabled = true;
  }
}

async function listOfflinePages() {
  const section = document.getElementById('offline-pages');
  if (!section || !('caches' in window)) return;
  const names = (await caches.keys()).filter((name) => name.startsWith('hospeda-pages-'));
  const list = section.querySelector('ul');
  for (const name of names) {
    for (const request of await (await caches.open(name)).keys()) {
      const path = new URL(request.url).pathname;
      list.append(el('li', {}, el('a', { href: path }, path)));
    }
  }
  section.hidden = list.children.length === 0;
}

// --- push ------------------------------------------------------------------------------

const isIos = () => /iphone|ipad|ipod/i.test(navigator.userAgent)
  || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
const standalone = () => window.matchMedia('(display-mode: standalone)').matches || navigator.standalone === true;
const pushSupported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

async function subscribe() {
  if (await Notification.requestPermission() !== 'granted') {
    throw new Error(t('As notificações foram bloqueadas neste navegador.', 'Notifications are blocked in this browser.'));
  }
  const { vapid_public_key: key } = await api('GET', '/api/v1/push/config');
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true, applicationServerKey: fromBase64url(key),
  });
  await api('POST', '/api/v1/push/subscriptions', subscription.toJSON());
}

async function resubscribe() {
  if (!pushSupported() || Notification.permission !== 'granted') return;
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.getSubscription();
  if (subscription) await api('POST', '/api/v1/push/subscriptions', subscription.toJSON());
}

async function pushOptin(section) {
  const status = el('p', { class: 'pwa-status', role: 'status', id: 'push-status' });
  const heading = el('h2', {}, t('Notificações neste aparelho', 'Notifications on this device'));
  if (!pushSupported()) {
    if (isIos() && !standalone()) {
      section.replaceChildren(heading, el('div', { class: 'pwa-help', id: 'ios-install-help' },
        el('p', {}, t('No iPhone e no iPad, as notificações chegam pelo app instalado:',
          'On iPhone and iPad, notifications come through the installed app:')),
        el('ol', {},
          el('li', {}, t('toque em Compartilhar (o quadrado com a seta) no Safari;', 'tap Share (the square with the arrow) in Safari;')),
          el('li', {}, t('escolha “Adicionar à Tela de Início”;', 'choose “Add to Home Screen”;')),
          el('li', {}, t('abra a Hospeda pelo ícone e volte a esta página.', 'open Hospeda from the icon and come back to this page.')))));
    } else {
      section.replaceChildren(heading, el('p', {}, t('Este navegador não recebe notificações push.', 'This browser cannot receive push notifications.')));
    }
    return;
  }
  const on = el('button', { type: 'button', id: 'push-subscribe' }, t('Receber notificações neste aparelho', 'Get notifications on this device'));
  const off = el('button', { type: 'button', id: 'push-unsubscribe', class: 'secondary' }, t('Parar neste aparelho', 'Stop on this device'));
  const devices = el('ul', { class: 'pwa-list', id: 'push-devices' });
  section.replaceChildren(heading, el('div', { class: 'pwa-actions' }, on, off), status,
    el('h3', {}, t('Aparelhos que recebem push', 'Devices receiving pushes')), devices);

  const refresh = async () => {
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.getSubscription();
    on.hidden = Boolean(subscription);
    off.hidden = !subscription;
    if (Notification.permission === 'denied') {
      status.textContent = t('As notificações estão bloqueadas; libere-as nas configurações do site.', 'Notifications are blocked; allow them in the site settings.');
    }
    try {
      const { items } = await api('GET', '/api/v1/push/subscriptions');
      devices.replaceChildren(...items.map((device) => {
        const remove = el('button', { type: 'button', class: 'secondary' }, t('Remover', 'Remove'));
        remove.addEventListener('click', async () => {
          await api('DELETE', `/api/v1/push/subscriptions/${device.id}`);
          remove.closest('li').remove();
        });
        return el('li', {}, el('span', {}, device.user_agent || t('Navegador', 'Browser')), remove);
      }));
    } catch (error) { devices.replaceChildren(); }
  };
  on.addEventListener('click', async () => {
    status.textContent = t('Pedindo permissão…', 'Asking for permission…');
    try {
      await subscribe();
      status.textContent = t('Pronto: este aparelho vai receber notificações.', 'Done: this device will get notifications.');
    } catch (error) {
      status.textContent = error.message;
    }
    await refresh();
  });
  off.addEventListener('click', async () => {
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.getSubscription();
    // the push service forgets it; notify drops a subscription its push service no longer knows
    if (subscription) await subscription.unsubscribe();
    status.textContent = t('Este aparelho não vai mais receber notificações.', 'This device will no longer get notifications.');
    await refresh();
  });
  await refresh();
}

// --- start ---------------------------------------------------------------------------

markOfflineCopy();
const registered = register().catch((error) => console.warn('service worker:', error));
const optin = document.getElementById('push-optin');
if (optin) registered.then(() => pushOptin(optin));
listOfflinePages();
if (document.querySelector('#passkeys, #passkey-login')) import('/static/js/passkeys.js');
