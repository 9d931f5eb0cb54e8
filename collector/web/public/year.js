// @ts-check
/**
 * The year: utilization and sharing rate per instrument from the annual assessment report
 * (GET /api/v1/exports/annual?format=json, the same figures as the XLSX/CSV/HTML export), with the export files
 * to download, and the import of a bookings CSV (POST /api/v1/bookings, admin token; the figures are reloaded after
 * it, since bookings decide external and internal hours).
 */
import { ApiError, askForToken, downloadWithToken, getJson, postFile } from './api.js';
import { fill, h } from './dom.js';
import { fmtDateTime, fmtHours, fmtNumber, fmtPercent } from './format.js';
import { t } from './i18n.js';

/**
 * A rate as a bar and its percentage.
 * @param {number | null} rate
 * @param {string} cls
 */
function rateCell(rate, cls) {
  const bar = h('span', { class: `rate-bar ${cls}` });
  // CSSOM (not a style attribute): allowed by the page's Content-Security-Policy.
  bar.style.width = `${Math.min(100, Math.max(0, (rate ?? 0) * 100))}%`;
  return h('td', { class: 'rate' }, h('span', { class: 'rate-track' }, bar), h('span', { class: 'rate-text' }, fmtPercent(rate)));
}

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/**
 * The bookings import (a CSV file, UTF-8 or GBK, or an Excel workbook): a file input, the collector's answer (counts, bad rows by line, notes), and what to do
 * without an admin token.
 * @param {() => void} onImported called after an import stored something
 */
function bookingsPanel(onImported) {
  const input = /** @type {HTMLInputElement} */ (h('input', { type: 'file', id: 'bookings-file', accept: `.csv,.xlsx,text/csv,${XLSX}` }));
  const button = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'btn', id: 'bookings-submit' }, t('bookings.import')));
  const out = h('div', { id: 'bookings-result', 'aria-live': 'polite' });
  /** @param {any} answer */
  const problems = (answer) => {
    const errors = /** @type {any[]} */ (answer?.errors ?? []);
    const warnings = /** @type {any[]} */ (answer?.warnings ?? []);
    return [
      errors.length > 0 &&
        h('div', { class: 'scroll-x' },
          h('table', { class: 'table small', id: 'bookings-errors' },
            h('thead', {}, h('tr', {}, h('th', { class: 'num' }, t('bookings.line')), h('th', {}, t('bookings.column')), h('th', {}, t('bookings.value')), h('th', {}, t('bookings.problem')))),
            h('tbody', {},
              ...errors.map((e) =>
                h('tr', { 'data-line': String(e.line ?? e.index ?? '') },
                  h('td', { class: 'num' }, String(e.line ?? (e.index !== undefined ? `#${e.index}` : ''))),
                  h('td', {}, e.column ?? ''),
                  h('td', { class: 'ellipsis' }, e.value ?? ''),
                  h('td', {}, e.message)))))),
      warnings.length > 0 &&
        h('div', { class: 'small muted', id: 'bookings-warnings' },
          t('bookings.warnings'),
          h('ul', {}, ...warnings.map((w) => h('li', {}, `${w.line !== undefined ? `${t('bookings.line')} ${w.line}` : ''}${w.column ? ` (${w.column})` : ''}: ${w.message}`)))),
    ];
  };
  const submit = async (/** @type {Event} */ e) => {
    e.preventDefault();
    const file = input.files?.[0];
    if (!file) {
      out.replaceChildren(h('p', { class: 'error' }, t('bookings.noFile')));
      return;
    }
    button.disabled = true;
    out.replaceChildren(h('p', { class: 'muted' }, t('bookings.importing')));
    try {
      const answer = await postFile('/api/v1/bookings', file, /\.xlsx$/i.test(file.name) || file.type === XLSX ? XLSX : 'text/csv');
      fill(out,
        h('p', { class: 'ok', id: 'bookings-summary' }, t('bookings.result', { file: file.name, inserted: answer.inserted, duplicates: answer.duplicates, rejected: answer.rejected })),
        problems(answer));
      if (answer.inserted > 0) onImported();
    } catch (err) {
      const error = /** @type {Error} */ (err);
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        out.replaceChildren(
          h('p', { class: 'error', id: 'bookings-summary' }, t('bookings.needAdmin', { message: error.message }),
            ' ', h('button', { type: 'button', class: 'btn small', id: 'bookings-token', 'on:click': askForToken }, t('bookings.enterToken'))),
        );
      } else {
        fill(out, h('p', { class: 'error', id: 'bookings-summary' }, t('common.error', { message: error.message })), problems(error instanceof ApiError ? error.body : null));
      }
    } finally {
      button.disabled = false;
    }
  };
  return h('section', { class: 'panel bookings-import', id: 'bookings-import' },
    h('h2', {}, t('bookings.title')),
    h('p', { class: 'small muted' }, t('bookings.hint')),
    h('form', { 'on:submit': submit }, input, ' ', button),
    out);
}

/**
 * @param {HTMLElement} main
 * @param {number} year
 * @returns {() => void}
 */
export function mountYear(main, year) {
  const abort = new AbortController();
  const base = `/api/v1/exports/annual?year=${year}`;
  /** @param {string} href @param {string} label @param {string} cls */
  const link = (href, label, cls) => h('a', { href, class: `btn download ${cls}`, download: '', 'on:click': downloadWithToken }, label);
  const body = h('div', { id: 'year-body' }, h('p', { class: 'muted' }, t('common.loading')));
  main.replaceChildren(
    h('section', { class: 'year' },
      h('div', { class: 'page-head' },
        h('a', { href: `#/year/${year - 1}`, class: 'btn', title: t('year.prev'), 'aria-label': t('year.prev') }, '◀'),
        h('h1', {}, t('year.title', { year })),
        h('a', { href: `#/year/${year + 1}`, class: 'btn', title: t('year.next'), 'aria-label': t('year.next') }, '▶')),
      h('div', { class: 'downloads' },
        h('span', { class: 'muted' }, t('year.downloads')),
        link(`${base}&format=xlsx`, t('year.xlsx'), 'dl-xlsx'),
        link(`${base}&format=csv`, t('year.csv'), 'dl-csv'),
        link(`${base}&format=csv&sheet=sessions`, t('year.csvSessions'), 'dl-csv-sessions'),
        h('a', { href: `${base}&format=html`, class: 'btn download dl-html', target: '_blank', rel: 'noopener' }, t('year.html'))),
      body,
      bookingsPanel(() => void load())),
  );

  async function load() {
    try {
      const report = await getJson(`${base}&format=json`, abort.signal);
      const tz = report.time_zone;
      const tot = report.totals;
      const card = (/** @type {string} */ label, /** @type {string} */ value, /** @type {string} */ cls) =>
        h('div', { class: `stat ${cls}` }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
      body.replaceChildren(
        h('div', { class: 'stats', id: 'year-totals' },
          card(t('col.effective'), fmtHours(tot.effective_h), 'effective'),
          card(t('col.rated'), fmtHours(tot.rated_h), 'rated'),
          card(t('col.utilization'), fmtPercent(tot.utilization_rate), 'utilization'),
          card(t('col.external'), fmtHours(tot.external_h), 'external'),
          card(t('col.sharing'), fmtPercent(tot.sharing_rate), 'sharing'),
          card(t('col.sessions'), fmtNumber(tot.sessions, 0), 'sessions'),
          card(t('col.coverage'), fmtPercent(tot.coverage), 'coverage')),
        report.rows.length === 0
          ? h('p', { class: 'muted' }, t('year.empty'))
          : h('div', { class: 'scroll-x' },
            h('table', { class: 'table year-table', id: 'year-table' },
              h('thead', {}, h('tr', {},
                h('th', {}, t('col.id')), h('th', {}, t('col.name')), h('th', {}, t('col.inScope')),
                h('th', { class: 'num' }, t('col.effective')), h('th', { class: 'num' }, t('col.rated')), h('th', {}, t('col.utilization')),
                h('th', { class: 'num' }, t('col.external')), h('th', { class: 'num' }, t('col.internal')), h('th', {}, t('col.sharing')),
                h('th', { class: 'num' }, t('col.sessions')), h('th', { class: 'num' }, t('col.coverage')), h('th', {}, t('col.notes')))),
              h('tbody', {},
                ...report.rows.map((/** @type {any} */ r) =>
                  h('tr', { 'data-id': r.id },
                    h('td', {}, h('a', { href: `#/instrument/${encodeURIComponent(r.id)}` }, r.id)),
                    h('td', { class: 'ellipsis name' }, r.asset?.name ?? ''),
                    h('td', {}, r.in_scope ? t('yes') : t('no')),
                    h('td', { class: 'num' }, fmtHours(r.effective_h)),
                    h('td', { class: 'num' }, fmtHours(r.rated_h)),
                    rateCell(r.utilization_rate, 'utilization'),
                    h('td', { class: 'num' }, fmtHours(r.external_h)),
                    h('td', { class: 'num' }, fmtHours(r.internal_h)),
                    rateCell(r.sharing_rate, 'sharing'),
                    h('td', { class: 'num' }, fmtNumber(r.sessions, 0)),
                    h('td', { class: 'num' }, fmtPercent(r.coverage)),
                    h('td', { class: 'small muted' }, [r.no_data ? t('note.noData') : r.partial ? t('note.partial') : ''].join(''))))),
              h('tfoot', {}, h('tr', {},
                h('th', {}, t('year.totals')), h('td', {}), h('td', {}),
                h('td', { class: 'num' }, fmtHours(tot.effective_h)), h('td', { class: 'num' }, fmtHours(tot.rated_h)),
                rateCell(tot.utilization_rate, 'utilization'),
                h('td', { class: 'num' }, fmtHours(tot.external_h)), h('td', { class: 'num' }, fmtHours(tot.internal_h)),
                rateCell(tot.sharing_rate, 'sharing'),
                h('td', { class: 'num' }, fmtNumber(tot.sessions, 0)), h('td', { class: 'num' }, fmtPercent(tot.coverage)), h('td', {}))))),
        h('p', { class: 'muted small' }, t('year.generated', { time: fmtDateTime(report.generated_at, tz), tz })),
      );
    } catch (err) {
      if (!abort.signal.aborted) body.replaceChildren(h('p', { class: 'error' }, t('common.error', { message: String(/** @type {Error} */ (err).message) })));
    }
  }
  void load();
  return () => abort.abort();
}
