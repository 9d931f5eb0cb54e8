// @ts-check
/**
 * The console's entry point: a hash router over three pages (`#/` live board, `#/instrument/<id>`, `#/year/<y>`),
 * the language switch, the stream status and the token prompt for collectors that need one to read.
 */
import { getToken, onUnauthorized, setToken } from './api.js';
import { mountBoard } from './board.js';
import { h } from './dom.js';
import { applyStatic, getLang, locale, onLangChange, setLang, t } from './i18n.js';
import { mountInstrument } from './instrument.js';
import { mountYear } from './year.js';

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const conn = /** @type {HTMLElement} */ (document.getElementById('conn'));
const langSelect = /** @type {HTMLSelectElement} */ (document.getElementById('lang'));
const forget = /** @type {HTMLButtonElement} */ (document.getElementById('forget-token'));

/** @type {(() => void) | undefined} */
let unmount;
let connection = 'connecting';

/** @param {string} status */
function setConnection(status) {
  connection = status;
  conn.setAttribute('data-state', status);
  conn.textContent = t(/** @type {any} */ (`conn.${status}`));
}

function route() {
  unmount?.();
  unmount = undefined;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = hash.split('?');
  const query = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean);
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('on', a.getAttribute('data-nav') === (parts[0] === 'year' ? 'year' : parts[0] === undefined ? 'board' : ''));
  }
  const ctx = { setConnection };
  setConnection('idle');
  window.scrollTo(0, 0);
  if (parts[0] === 'instrument' && parts[1] !== undefined) {
    document.body.setAttribute('data-page', 'instrument');
    unmount = mountInstrument(main, decodeURIComponent(parts[1]), query, ctx);
  } else if (parts[0] === 'year') {
    document.body.setAttribute('data-page', 'year');
    const y = Number(parts[1]);
    unmount = mountYear(main, Number.isInteger(y) && y >= 2000 && y <= 2100 ? y : new Date().getFullYear());
  } else {
    document.body.setAttribute('data-page', 'board');
    unmount = mountBoard(main, ctx);
  }
}

function showTokenPrompt() {
  unmount?.();
  unmount = undefined;
  document.body.setAttribute('data-page', 'token');
  const input = h('input', { type: 'password', id: 'token-input', autocomplete: 'off', size: 48 });
  main.replaceChildren(
    h('section', { class: 'panel narrow' },
      h('h1', {}, t('auth.title')),
      h('p', {}, t('auth.text')),
      h('form', {
        'on:submit': (/** @type {Event} */ e) => {
          e.preventDefault();
          setToken(input.value.trim());
          forget.hidden = !getToken();
          route();
        },
      }, input, ' ', h('button', { type: 'submit', class: 'btn' }, t('auth.save')))),
  );
  input.focus();
}

langSelect.value = getLang();
langSelect.addEventListener('change', () => setLang(langSelect.value === 'zh' ? 'zh' : 'en'));
forget.hidden = !getToken();
forget.addEventListener('click', () => {
  setToken('');
  forget.hidden = true;
  route();
});
onLangChange(() => {
  applyStatic();
  setConnection(connection);
  route();
});
onUnauthorized(showTokenPrompt);
window.addEventListener('hashchange', route);
document.documentElement.lang = locale();
applyStatic();
setConnection('connecting');
route();
