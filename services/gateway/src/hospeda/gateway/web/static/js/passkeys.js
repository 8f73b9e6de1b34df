// Passkeys ("biometria ou bloqueio de tela"): signing in from the e-mail field's
// autofill (conditional mediation) or the button, and the list in #passkeys on
// the account page (add, rename, remove). WebAuthn JSON is base64url both ways.
import { api, el, fromBase64url, t, toBase64url, when } from '/static/js/http.js';

const supported = () => 'PublicKeyCredential' in window && navigator.credentials;

// --- options in, credentials out ---------------------------------------------------------

function creationOptions(json) {
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    excludeCredentials: (json.excludeCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  };
}

function requestOptions(json) {
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  };
}

function credentialJson(credential) {
  const response = credential.response;
  const answer = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: { clientDataJSON: toBase64url(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    answer.response.attestationObject = toBase64url(response.attestationObject);
    answer.response.transports = response.getTransports ? response.getTransports() : [];
  } else {
    answer.response.authenticatorData = toBase64url(response.authenticatorData);
    answer.response.signature = toBase64url(response.signature);
    if (response.userHandle) answer.response.userHandle = toBase64url(response.userHandle);
  }
  return answer;
}

function explain(error) {
  if (error.name === 'NotAllowedError') return t('Cancelado, ou o tempo acabou. Tente de novo.', 'Cancelled, or the time ran out. Please try again.');
  if (error.name === 'InvalidStateError') return t('Este aparelho já tem uma chave de acesso nesta conta.', 'This device already has a passkey for this account.');
  if (error.name === 'SecurityError') return t('Chaves de acesso só funcionam no endereço oficial da Hospeda.', 'Passkeys only work on Hospeda\'s own address.');
  return error.message;
}

// --- signing in -------------------------------------------------------------------------

function nextPage() {
  const next = new URLSearchParams(location.search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/app';
}

function setUpLogin(button) {
  if (!supported()) return;
  const status = el('p', { class: 'pwa-status', role: 'status', id: 'passkey-status' });
  button.after(status);
  button.hidden = false;
  let pending = null; // the conditional request waiting in the e-mail field
  let signingIn = false; // one sign-in at a time: a second would end the first's session

  const signIn = async (mediation) => {
    const options = await api('GET', '/api/v1/auth/passkeys/login/options');
    const request = { publicKey: requestOptions(options.publicKey) };
    if (mediation) {
      pending = new AbortController();
      request.mediation = 'conditional';
      request.signal = pending.signal;
    }
    const credential = await navigator.credentials.get(request);
    if (signingIn) return;
    signingIn = true;
    status.textContent = t('Entrando…', 'Signing in…');
    try {
      await api('POST', '/api/v1/auth/passkeys/login', { credential: credentialJson(credential) });
    } catch (error) {
      signingIn = false;
      throw error;
    }
    location.assign(nextPage());
  };

  button.addEventListener('click', async () => {
    if (signingIn) return;
    if (pending) pending.abort(); // one WebAuthn request at a time
    pending = null;
    status.classList.remove('pwa-error');
    status.textContent = t('Use a biometria ou o bloqueio de tela do aparelho…', 'Use your device\'s biometrics or screen lock…');
    try {
      await signIn(false);
    } catch (error) {
      status.textContent = explain(error);
      status.classList.add('pwa-error');
    }
  });

  const conditional = window.PublicKeyCredential.isConditionalMediationAvailable;
  if (conditional) {
    conditional.call(window.PublicKeyCredential).then((available) => {
      if (!available) return;
      signIn(true).catch((error) => {
        if (error.name === 'AbortError') return; // the button took over
        status.textContent = explain(error);
        status.classList.add('pwa-error');
      });
    });
  }
}

// --- the account page's list -------------------------------------------------------------

function setUpList(section) {
  const status = el('p', { class: 'pwa-status', role: 'status', id: 'passkeys-status' });
  const list = el('ul', { class: 'pwa-list', id: 'passkeys-list' });
  const name = el('input', { id: 'passkey-name', name: 'passkey-name', maxlength: 100, autocomplete: 'off' });
  const add = el('button', { type: 'button', id: 'passkey-add' }, t('Adicionar chave de acesso', 'Add a passkey'));
  const adding = el('div', { class: 'pwa-actions' },
    el('label', { for: 'passkey-name' }, t('Nome (opcional)', 'Name (optional)')), name, add);
  section.replaceChildren(
    el('h2', {}, t('Chaves de acesso', 'Passkeys')),
    el('p', {}, t('Entre com a biometria ou o bloqueio de tela do aparelho, sem digitar a senha. A senha continua valendo.',
      'Sign in with your device\'s biometrics or screen lock, without typing the password. The password still works.')),
    list, supported() ? adding : el('p', {}, t('Este navegador não oferece chaves de acesso.', 'This browser does not offer passkeys.')),
    status);

  const say = (text, error = false) => {
    status.textContent = text;
    status.classList.toggle('pwa-error', error);
  };

  const render = async () => {
    const { items, has_password: hasPassword } = await api('GET', '/api/v1/me/passkeys');
    if (!items.length) {
      list.replaceChildren(el('li', {}, t('Nenhuma chave de acesso ainda.', 'No passkeys yet.')));
      return;
    }
    list.replaceChildren(...items.map((passkey) => row(passkey, items.length === 1 && !hasPassword)));
  };

  const row = (passkey, onlyWayIn) => {
    const used = passkey.last_used_at
      ? t(`último uso ${when(passkey.last_used_at)}`, `last used ${when(passkey.last_used_at)}`)
      : t('ainda não usada', 'not used yet');
    const meta = el('span', { class: 'pwa-meta' },
      t(`criada ${when(passkey.created_at)}`, `added ${when(passkey.created_at)}`), ' · ', used,
      passkey.synced ? t(' · sincronizada', ' · synced') : '');
    const label = el('span', { class: 'passkey-name' }, passkey.name);
    const rename = el('button', { type: 'button', class: 'secondary', 'data-action': 'rename' }, t('Renomear', 'Rename'));
    const remove = el('button', { type: 'button', class: 'secondary', 'data-action': 'remove' }, t('Remover', 'Remove'));
    if (onlyWayIn) {
      remove.disabled = true;
      remove.title = t('Defina uma senha antes de remover a última chave de acesso.', 'Set a password before removing your last passkey.');
    }
    const item = el('li', { 'data-id': passkey.id }, el('span', {}, label, el('br'), meta), el('span', { class: 'pwa-actions' }, rename, remove));

    rename.addEventListener('click', () => {
      const id = `rename-${passkey.id}`;
      const input = el('input', { id, value: passkey.name, maxlength: 100, required: true });
      const save = el('button', { type: 'submit' }, t('Salvar', 'Save'));
      const cancel = el('button', { type: 'button', class: 'secondary' }, t('Cancelar', 'Cancel'));
      const form = el('form', { class: 'pwa-actions' }, el('label', { for: id }, t('Novo nome', 'New name')), input, save, cancel);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        try {
          await api('PATCH', `/api/v1/me/passkeys/${passkey.id}`, { name: input.value });
          say(t('Nome alterado.', 'Renamed.'));
          await render();
        } catch (error) { say(error.message, true); }
      });
      cancel.addEventListener('click', () => render());
      item.replaceChildren(form);
      input.focus();
    });
    remove.addEventListener('click', async () => {
      if (!window.confirm(t(`Remover a chave de acesso “${passkey.name}”?`, `Remove the passkey “${passkey.name}”?`))) return;
      try {
        await api('DELETE', `/api/v1/me/passkeys/${passkey.id}`);
        say(t('Chave de acesso removida.', 'Passkey removed.'));
        await render();
      } catch (error) { say(error.message, true); }
    });
    return item;
  };

  add.addEventListener('click', async () => {
    say(t('Use a biometria ou o bloqueio de tela do aparelho…', 'Use your device\'s biometrics or screen lock…'));
    try {
      const options = await api('POST', '/api/v1/me/passkeys/options');
      const credential = await navigator.credentials.create({ publicKey: creationOptions(options.publicKey) });
      const body = { credential: credentialJson(credential) };
      if (name.value.trim()) body.name = name.value.trim();
      const added = await api('POST', '/api/v1/me/passkeys', body);
      name.value = '';
      say(t(`Chave de acesso “${added.name}” adicionada.`, `Passkey “${added.name}” added.`));
      await render();
    } catch (error) { say(explain(error), true); }
  });

  render().catch((error) => say(error.message, true));
}

const loginButton = document.getElementById('passkey-login');
if (loginButton) setUpLogin(loginButton);
const section = document.getElementById('passkeys');
if (section) setUpList(section);
