// @ts-check
/**
 * One instrument: power and state over a chosen range (SVG chart), its sessions, daily effective hours against
 * the rated pace, and its thresholds with the calibration histogram (read-only: thresholds live in the
 * collector config). The live state and last reading follow the event stream; a "last N hours" chart refreshes
 * itself every 30 s.
 */
import { ApiError, askForToken, deleteJson, getJson, subscribe } from './api.js';
import { noteChanges } from './board.js';
import { dailyChart, histogramChart, powerChart } from './charts.js';
import { fill, h, stateBadge } from './dom.js';
import { addDays, fmtDateTime, fmtDuration, fmtShortDateTime, fmtHours, fmtNumber, fmtPercent, fmtPower, localDay, wallParts, wallToUtc } from './format.js';
import { t } from './i18n.js';

const PRESETS = /** @type {const} */ ({ '1h': 3_600_000, '6h': 6 * 3_600_000, '24h': 24 * 3_600_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 });
/** @typedef {keyof typeof PRESETS} Preset */
const DAILY_DAYS = 30;
const REFRESH_MS = 30_000;
const PARAMS = ['off_w', 'active_w', 'hysteresis', 'min_dwell_s', 'max_gap_s', 'merge_gap_s', 'warmup_max_s', 'post_max_s'];

/**
 * @param {string} value `YYYY-MM-DDTHH:MM` of a datetime-local input
 * @param {string} tz
 */
function parseWall(value, tz) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!m) return null;
  return wallToUtc(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5])), tz);
}

/**
 * @param {number} ms
 * @param {string} tz
 */
function wallInput(ms, tz) {
  const p = wallParts(ms, tz);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/** @param {string} key a threshold parameter */
function paramValue(key, /** @type {number} */ v) {
  if (key.endsWith('_w')) return fmtPower(v);
  if (key.endsWith('_s')) return `${fmtNumber(v, 0)} s`;
  return fmtNumber(v, 2);
}

/**
 * @param {HTMLElement} main
 * @param {string} id
 * @param {URLSearchParams} query range=1h|6h|24h|7d|30d, or from=&to= (ms)
 * @param {{ setConnection: (status: string) => void }} ctx
 * @returns {() => void}
 */
export function mountInstrument(main, id, query, ctx) {
  const abort = new AbortController();
  /** @type {Preset | null} */
  let preset = null;
  let customFrom = Number(query.get('from'));
  let customTo = Number(query.get('to'));
  if (!(customFrom > 0 && customTo > customFrom)) {
    const r = query.get('range');
    preset = r !== null && r in PRESETS ? /** @type {Preset} */ (r) : '24h';
  }
  let tz = 'Asia/Shanghai';
  /** @type {any} */
  let readings = null;
  /** @type {any} */
  let daily = null;
  /** @type {any} */
  let calibration = null;
  let lastFetch = 0;

  const title = h('h1', {}, id);
  const badge = h('span', { id: 'inst-state' });
  const last = h('span', { class: 'muted', id: 'inst-last' });
  const rangeButtons = h('div', { class: 'segmented', role: 'group', 'aria-label': t('inst.range') });
  const fromInput = h('input', { type: 'datetime-local', id: 'range-from', 'aria-label': t('inst.from') });
  const toInput = h('input', { type: 'datetime-local', id: 'range-to', 'aria-label': t('inst.to') });
  const chartBox = h('div', { class: 'chart-box', id: 'power-chart' }, h('p', { class: 'muted' }, t('common.loading')));
  const chartNote = h('p', { class: 'muted small', id: 'chart-note' });
  const sessionsBox = h('div', { class: 'scroll', id: 'sessions' }, h('p', { class: 'muted' }, t('common.loading')));
  const bookingsBox = h('div', { class: 'scroll', id: 'bookings' }, h('p', { class: 'muted' }, t('common.loading')));
  const bookingsNote = h('div', { id: 'bookings-note' });
  const dailyBox = h('div', { id: 'daily-chart' }, h('p', { class: 'muted' }, t('common.loading')));
  const dailyNote = h('p', { class: 'muted small', id: 'daily-note' });
  const paramsBox = h('div', { id: 'thresholds' }, h('p', { class: 'muted' }, t('common.loading')));
  const calibBox = h('div', { id: 'calibration' });

  main.replaceChildren(
    h('section', { class: 'instrument' },
      h('a', { href: '#/', class: 'back' }, t('common.back')),
      h('div', { class: 'page-head' }, title, badge, last),
      h('section', { class: 'panel' },
        h('div', { class: 'panel-head' },
          h('h2', {}, t('inst.chart')),
          h('div', { class: 'range' },
            rangeButtons,
            h('label', {}, t('inst.from'), ' ', fromInput),
            h('label', {}, t('inst.to'), ' ', toInput),
            h('button', { type: 'button', class: 'btn', id: 'range-apply', 'on:click': applyCustom }, t('common.apply')))),
        chartBox,
        h('div', { class: 'legend small' },
          ...['active', 'standby', 'off', 'fault', 'unknown'].map((st) => h('span', {}, h('span', { class: `swatch st-${st}` }), t(/** @type {any} */ (`state.${st}`)))),
          h('span', {}, h('span', { class: 'swatch line' }), t('inst.chart.avg')),
          h('span', {}, h('span', { class: 'swatch band' }), t('inst.chart.minmax'))),
        chartNote),
      h('div', { class: 'two-col' },
        h('section', { class: 'panel' }, h('h2', {}, t('inst.sessions')), sessionsBox),
        h('section', { class: 'panel' }, h('h2', {}, t('inst.daily')), dailyBox, dailyNote)),
      h('section', { class: 'panel' },
        h('h2', {}, t('inst.bookings')),
        h('p', { class: 'small muted' }, t('inst.bookings.hint')),
        bookingsNote,
        bookingsBox),
      h('section', { class: 'panel' },
        h('h2', {}, t('inst.thresholds')),
        h('div', { class: 'two-col calib' }, paramsBox, calibBox)),
    ),
  );

  function range() {
    if (preset !== null) {
      const to = Date.now();
      return { from: to - PRESETS[preset], to };
    }
    return { from: customFrom, to: customTo };
  }

  function renderRangeButtons() {
    rangeButtons.replaceChildren(
      ...Object.keys(PRESETS).map((key) =>
        h('button', {
          type: 'button',
          class: `btn${preset === key ? ' on' : ''}`,
          'data-range': key,
          'aria-pressed': preset === key ? 'true' : 'false',
          'on:click': () => {
            preset = /** @type {Preset} */ (key);
            history.replaceState(null, '', `#/instrument/${encodeURIComponent(id)}?range=${key}`);
            renderRangeButtons();
            void loadRange();
          },
        }, t(/** @type {any} */ (`inst.range.${key}`)))),
    );
  }

  function applyCustom() {
    const from = parseWall(fromInput.value, tz);
    const to = parseWall(toInput.value, tz);
    if (from === null || to === null || !(to > from)) return;
    preset = null;
    customFrom = from;
    customTo = to;
    history.replaceState(null, '', `#/instrument/${encodeURIComponent(id)}?from=${from}&to=${to}`);
    renderRangeButtons();
    void loadRange();
  }

  const width = (/** @type {HTMLElement} */ el, /** @type {number} */ fallback) => Math.max(280, Math.floor(el.clientWidth || fallback));

  function renderChart() {
    if (!readings) return;
    const { from, to } = { from: readings.from, to: readings.to };
    chartBox.replaceChildren(
      powerChart({
        width: width(chartBox, 1200),
        height: 300,
        from,
        to,
        tz,
        bucketMs: readings.bucket_ms,
        power: readings.power,
        states: readings.states,
        thresholds: readings.thresholds,
      }),
    );
    chartNote.textContent = t('inst.chart.samples', { n: readings.samples, bucket: fmtDuration(readings.bucket_ms / 1000) });
    fromInput.value = wallInput(from, tz);
    toInput.value = wallInput(to, tz);
  }

  /** @param {any[]} sessions */
  function renderSessions(sessions) {
    if (sessions.length === 0) {
      sessionsBox.replaceChildren(h('p', { class: 'muted' }, t('inst.sessions.none')));
      return;
    }
    const now = Date.now();
    sessionsBox.replaceChildren(
      h('table', { class: 'table', id: 'sessions-table' },
        h('thead', {}, h('tr', {},
          h('th', {}, t('inst.sessions.start')), h('th', {}, t('inst.sessions.end')), h('th', { class: 'num' }, t('inst.sessions.duration')),
          h('th', { class: 'num' }, t('inst.sessions.active')), h('th', { class: 'num' }, t('inst.sessions.warmup')),
          h('th', { class: 'num' }, t('inst.sessions.post')), h('th', { class: 'num' }, t('inst.sessions.energy')))),
        h('tbody', {},
          ...sessions.map((ses) =>
            h('tr', {},
              h('td', { class: 'nowrap', title: fmtDateTime(ses.start, tz) }, fmtShortDateTime(ses.start, tz)),
              h('td', { class: 'nowrap', title: fmtDateTime(ses.end, tz) }, now - ses.end < 60_000 ? h('em', {}, t('inst.sessions.open')) : fmtShortDateTime(ses.end, tz, ses.start)),
              h('td', { class: 'num' }, fmtDuration(ses.duration_s)),
              h('td', { class: 'num' }, fmtDuration(ses.active_s)),
              h('td', { class: 'num' }, fmtDuration(ses.warmup_s)),
              h('td', { class: 'num' }, fmtDuration(ses.post_s)),
              h('td', { class: 'num' }, fmtNumber(ses.energy_kwh, 2)))))),
    );
  }

  /** Bookings overlapping the range, newest first (at most 300), each with a delete button. */
  async function loadBookings() {
    if (!readings) return;
    const fromDay = localDay(readings.from, tz);
    const toDay = localDay(readings.to - 1, tz);
    const res = await getJson(`/api/v1/bookings?instrument=${encodeURIComponent(id)}&from=${fromDay}&to=${toDay}`, abort.signal);
    /** @type {any[]} */
    const list = res.bookings.filter((/** @type {any} */ b) => b.end > readings.from && b.start < readings.to).reverse().slice(0, 300);
    if (list.length === 0) {
      bookingsBox.replaceChildren(h('p', { class: 'muted' }, t('inst.bookings.none')));
      return;
    }
    bookingsBox.replaceChildren(
      h('table', { class: 'table', id: 'bookings-table' },
        h('thead', {}, h('tr', {},
          h('th', {}, t('inst.sessions.start')), h('th', {}, t('inst.sessions.end')), h('th', {}, t('inst.bookings.user')),
          h('th', {}, t('inst.bookings.org')), h('th', {}, t('inst.bookings.kind')), h('th', {}, t('inst.bookings.source')), h('th', {}))),
        h('tbody', {},
          ...list.map((b) =>
            h('tr', { 'data-booking': String(b.id) },
              h('td', { class: 'nowrap', title: fmtDateTime(b.start, tz) }, fmtShortDateTime(b.start, tz)),
              h('td', { class: 'nowrap', title: fmtDateTime(b.end, tz) }, fmtShortDateTime(b.end, tz, b.start)),
              h('td', { class: 'ellipsis' }, b.user),
              h('td', { class: 'ellipsis' }, b.organisation),
              h('td', {}, t(b.kind === 'external' ? 'inst.bookings.external' : 'inst.bookings.internal')),
              h('td', { class: 'ellipsis small muted' }, b.source),
              h('td', {}, h('button', {
                type: 'button', class: 'btn small delete-booking', title: t('inst.bookings.delete'), 'aria-label': t('inst.bookings.delete'),
                'on:click': () => void removeBooking(b),
              }, '×')))))),
    );
  }

  /** @param {any} b */
  async function removeBooking(b) {
    if (!confirm(t('inst.bookings.confirmDelete', { user: b.user, start: fmtDateTime(b.start, tz) }))) return;
    try {
      await deleteJson(`/api/v1/bookings/${b.id}`);
      bookingsNote.replaceChildren();
      await loadBookings();
    } catch (err) {
      const error = /** @type {Error} */ (err);
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        bookingsNote.replaceChildren(h('p', { class: 'error', id: 'bookings-denied' }, t('inst.bookings.needAdmin', { message: error.message }),
          ' ', h('button', { type: 'button', class: 'btn small', 'on:click': askForToken }, t('bookings.enterToken'))));
      } else if (!abort.signal.aborted) {
        bookingsNote.replaceChildren(h('p', { class: 'error' }, t('common.error', { message: error.message })));
      }
    }
  }

  async function loadRange() {
    const { from, to } = range();
    lastFetch = Date.now();
    const points = Math.min(2000, Math.max(200, Math.floor((chartBox.clientWidth || 1200) / 2)));
    try {
      readings = await getJson(`/api/v1/instruments/${encodeURIComponent(id)}/readings?from=${Math.floor(from)}&to=${Math.ceil(to)}&points=${points}`, abort.signal);
      tz = readings.time_zone;
      renderChart();
      const fromDay = localDay(readings.from, tz);
      const toDay = localDay(readings.to - 1, tz);
      const res = await getJson(`/api/v1/sessions?instrument=${encodeURIComponent(id)}&from=${fromDay}&to=${toDay}`, abort.signal);
      renderSessions(res.sessions.filter((/** @type {any} */ x) => x.end > readings.from && x.start < readings.to).reverse().slice(0, 300));
      await loadBookings();
    } catch (err) {
      if (!abort.signal.aborted) chartBox.replaceChildren(h('p', { class: 'error' }, t('common.error', { message: String(/** @type {Error} */ (err).message) })));
    }
  }

  function renderDaily() {
    if (!daily) return;
    const row = daily.day.instruments[0];
    const days = (row?.periods ?? []).map((/** @type {any} */ p) => ({ day: p.from, effective_h: p.effective_h, rated_h: p.rated_h }));
    dailyBox.replaceChildren(
      dailyChart({ width: width(dailyBox, 560), height: 220, tz, days }),
      h('div', { class: 'legend small' },
        h('span', {}, h('span', { class: 'swatch bar' }), t('inst.daily.effective')),
        h('span', {}, h('span', { class: 'swatch pace' }), t('inst.daily.pace', { rated: fmtNumber(row?.rated_hours_per_year ?? 0, 0) }))),
    );
    const eff = days.reduce((/** @type {number} */ a, /** @type {any} */ d) => a + d.effective_h, 0);
    const rated = days.reduce((/** @type {number} */ a, /** @type {any} */ d) => a + d.rated_h, 0);
    const ytd = daily.ytd.instruments[0]?.periods[0];
    dailyNote.textContent = t('inst.daily.summary', {
      days: days.length,
      effective: fmtHours(eff),
      rated: fmtHours(rated),
      rate: fmtPercent(rated > 0 ? eff / rated : null),
      ytd: fmtHours(ytd?.effective_h),
      ytdRate: fmtPercent(ytd?.utilization_rate),
    });
  }

  async function loadDaily() {
    const today = localDay(Date.now(), tz);
    const from = addDays(today, -(DAILY_DAYS - 1));
    const q = `instrument=${encodeURIComponent(id)}`;
    try {
      const [day, ytd] = await Promise.all([
        getJson(`/api/v1/utilization?${q}&group=day&from=${from}&to=${today}`, abort.signal),
        getJson(`/api/v1/utilization?${q}&group=total&from=${today.slice(0, 4)}-01-01&to=${today}`, abort.signal),
      ]);
      daily = { day, ytd };
      renderDaily();
    } catch (err) {
      if (!abort.signal.aborted) dailyBox.replaceChildren(h('p', { class: 'error' }, t('common.error', { message: String(/** @type {Error} */ (err).message) })));
    }
  }

  function renderCalibration() {
    if (!calibration) return;
    const c = calibration;
    const th = c.thresholds;
    paramsBox.replaceChildren(
      th
        ? h('div', {},
          h('table', { class: 'table params', id: 'params-table' },
            h('tbody', {}, ...PARAMS.map((key) => h('tr', { 'data-param': key }, h('th', {}, t(/** @type {any} */ (`param.${key}`))), h('td', { class: 'num' }, paramValue(key, th[key])))))),
          h('p', { class: 'muted small' }, t(/** @type {any} */ (`inst.thresholds.source.${th.source}`))))
        : h('p', { class: 'muted' }, t('inst.thresholds.none')),
    );
    if (c.samples === 0) {
      calibBox.replaceChildren(h('p', { class: 'muted' }, t('calib.none')));
      return;
    }
    fill(calibBox,
      h('h3', {}, t('calib.title', { from: c.from, to: c.to, n: fmtNumber(c.samples, 0) })),
      histogramChart({ width: width(calibBox, 600), height: 220, bins: c.histogram, current: th ? { off_w: th.off_w, active_w: th.active_w } : null, proposal: c.proposal }),
      h('p', { class: 'proposal' }, c.proposal ? t('calib.proposal', { off: fmtNumber(c.proposal.off_w, c.proposal.off_w < 10 ? 1 : 0), active: fmtNumber(c.proposal.active_w, 0), id }) : t('calib.noProposal')),
      c.clusters.length > 0
        ? h('p', { class: 'small' }, `${t('calib.levels')}: `,
          ...c.clusters.map((/** @type {any} */ k, /** @type {number} */ i) => [i > 0 ? ' · ' : '', h('span', { class: `level lvl-${k.label}` }, `${t(/** @type {any} */ (`calib.label.${k.label}`))} ~${fmtPower(k.center_w)} (${fmtPercent(k.share)})`)]))
        : null,
      h('details', { class: 'small' }, h('summary', {}, t('calib.reason')), h('p', {}, c.reason)),
    );
  }

  async function loadCalibration() {
    try {
      calibration = await getJson(`/api/v1/instruments/${encodeURIComponent(id)}/calibration`, abort.signal);
      renderCalibration();
    } catch (err) {
      if (!abort.signal.aborted) paramsBox.replaceChildren(h('p', { class: 'error' }, t('common.error', { message: String(/** @type {Error} */ (err).message) })));
    }
  }

  renderRangeButtons();
  void loadRange().then(() => Promise.all([loadDaily(), loadCalibration()]));

  const unsubscribe = subscribe('/api/v1/events', {
    /** @param {any} snap */
    snapshot(snap) {
      noteChanges(snap.changes);
      const i = snap.instruments.find((/** @type {any} */ x) => x.id === id);
      if (!i) return;
      title.textContent = i.name ?? i.id;
      title.title = i.id;
      badge.replaceChildren(stateBadge(i.state, t(/** @type {any} */ (`state.${i.state}`))));
      const r = i.last_reading;
      last.textContent = r ? `${i.id} · ${t('inst.lastReading')}: ${r.error ?? fmtPower(r.readings.power_w)} (${fmtDateTime(r.ts, snap.time_zone, { seconds: true })})` : i.id;
      if (preset !== null && Date.now() - lastFetch >= REFRESH_MS) void loadRange();
    },
  }, ctx.setConnection);

  let resizeTimer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);
  const onResize = () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      renderChart();
      renderDaily();
      renderCalibration();
    }, 150);
  };
  window.addEventListener('resize', onResize);
  return () => {
    abort.abort();
    unsubscribe();
    window.removeEventListener('resize', onResize);
    clearTimeout(resizeTimer);
  };
}
