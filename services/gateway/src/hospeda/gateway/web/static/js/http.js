// What pwa.js and passkeys.js share: the person's language, the API with the
// session's CSRF token, base64url, and building elements without innerHTML.

export const english = () => (document.documentElement.lang || 'pt-BR').toLowerCase().startsWith('en');
export const t = (pt, en) => (english() ? en : pt);

export function csrf() {
  const found = document.cookie.match(/(?:^|; )(?:__Host-)?hospeda_csrf=([^;]*)/);
  return found ? decodeURIComponent(found[1]) : '';
}

// Calls the API; a refusal throws an Error with the problem's detail (in the person's language).
export async function api(method, path, body) {
  const headers = { Accept: 'application/json', 'Accept-Language': english() ? 'en' : 'pt-BR' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = response.headers.get('Content-Type')?.includes('json') ? await response.json() : {};
  if (!response.ok) {
    const error = new Error(answer.detail || answer.title || `HTTP ${response.status}`);
    error.status = response.status;
    error.code = answer.code;
    throw error;
  }
  return answer;
}

export function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64url(value) {
  const base64 = value.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((value.length + 3) % 4);
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
  return bytes.buffer;
}

// el('button', {type: 'button', class: 'x'}, 'text', child…)
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

export function when(iso) {
  return new Date(iso).toLocaleString(english() ? 'en' : 'pt-BR', { dateStyle: 'short', timeStyle: 'short' });
}
