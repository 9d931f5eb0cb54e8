// @ts-check
/**
 * The live board: every instrument with its state (colour and name), power, last reading and effective hours
 * today; the agents and their health; the state changes seen while the page is open. Fed by the event stream
 * GET /api/v1/events: no reload, no polling.
 */
import { subscribe } from './api.js';
import { h, stateBadge } from './dom.js';
import { fmtAgo, fmtHours, fmtNumber, fmtPower, fmtShortDateTime, fmtTime } from './format.js';
import { t } from './i18n.js';

/** An agent is silent when its latest batch is older than this (s). */
const SILENT_AFTER_S = 120;
const STATES = ['active', 'standby', 'off', 'fault', 'unknown'];
/**
 * State changes seen since the console was opened (kept across page changes), newest first.
 * @type {Array<{ instrument_id: string, from: string, to: string, at: number }>}
 */
const changes = [];

/**
 * Remembers the state changes of a snapshot (every page that follows the stream calls this).
 * @param {Array<{ instrument_id: string, from: string, to: string, at: number }>} list
 */
export function noteChanges(list) {
  for (const c of list) changes.unshift(c);
  changes.sort((a, b) => b.at - a.at);
  changes.splice(12);
}

/**
 * @typedef {{ id: string, name: string | null, agent_id: string | null, state: string, state_since: number | null,
 *   last_seen: number | null, effective_today_h: number,
 *   last_reading: { ts: number, readings: Record<string, number>, status?: string, error?: string } | null }} BoardInstrument
 * @typedef {{ id: string, last_batch_at: number | null, silent_s: number | null, batches: number, clock_skew_ms: number | null,
 *   status: { outbox_depth: number, failing_instruments: string[], uplink_failures: number, device_errors: number } | null }} BoardAgent
 * @typedef {{ server_time: number, time_zone: string, today: string, instruments: BoardInstrument[], agents: BoardAgent[],
 *   changes: Array<{ instrument_id: string, from: string, to: string, at: number }> }} Snapshot
 */

/** @param {BoardAgent} a */
export function agentHealth(a) {
  if (a.last_batch_at === null) return 'never';
  if ((a.silent_s ?? 0) > SILENT_AFTER_S) return 'silent';
  if (a.status && (a.status.failing_instruments.length > 0 || a.status.uplink_failures > 0)) return 'degraded';
  return 'ok';
}

/**
 * @param {HTMLElement} main
 * @param {{ setConnection: (status: string) => void }} ctx
 * @returns {() => void} unmount
 */
export function mountBoard(main, ctx) {
  /** @type {Snapshot | null} */
  let snap = null;
  /** Server clock minus browser clock, for "x s ago". */
  let skew = 0;

  const summary = h('div', { class: 'summary', id: 'board-summary' });
  const grid = h('div', { class: 'cards', id: 'board-cards' }, h('p', { class: 'muted' }, t('common.loading')));
  const agents = h('div', { id: 'board-agents' });
  const log = h('ol', { class: 'changes', id: 'board-changes' });
  const updated = h('span', { class: 'muted updated', id: 'board-updated' });
  main.replaceChildren(
    h('section', { class: 'board' },
      h('div', { class: 'page-head' }, h('h1', {}, t('board.title')), updated),
      summary,
      grid,
      h('div', { class: 'two-col' },
        h('section', {}, h('h2', {}, t('board.agents')), agents),
        h('section', {}, h('h2', {}, t('board.changes')), log)),
    ),
  );

  const now = () => Date.now() + skew;

  const renderCards = () => {
    if (!snap) return;
    const tz = snap.time_zone;
    if (snap.instruments.length === 0) {
      grid.replaceChildren(h('p', { class: 'muted' }, t('board.empty')));
      return;
    }
    grid.replaceChildren(
      ...snap.instruments.map((i) => {
        const r = i.last_reading;
        const power = r && !r.error ? r.readings.power_w : undefined;
        return h('a', { class: `card st-${i.state}`, href: `#/instrument/${encodeURIComponent(i.id)}`, 'data-id': i.id, 'data-state': i.state },
          h('div', { class: 'card-head' },
            stateBadge(i.state, t(/** @type {any} */ (`state.${i.state}`))),
            i.state_since !== null ? h('span', { class: 'muted small' }, t('board.since', { time: fmtShortDateTime(i.state_since, tz, snap?.server_time) })) : null),
          h('div', { class: 'card-name', title: i.name ?? i.id }, i.name ?? i.id),
          h('div', { class: 'card-id muted small' }, i.id, i.agent_id ? ` · ${i.agent_id}` : ''),
          h('dl', { class: 'card-figures' },
            h('div', {}, h('dt', {}, t('board.power')), h('dd', { class: 'power' }, fmtPower(power))),
            h('div', { title: t('board.todayLong') }, h('dt', {}, t('board.today')), h('dd', { class: 'today' }, `${fmtHours(i.effective_today_h)} h`)),
            h('div', {}, h('dt', {}, t('board.lastSeen')), h('dd', { class: 'ago', 'data-ts': i.last_seen ?? '' }, fmtAgo(i.last_seen, now())))),
          r?.error ? h('div', { class: 'card-error small' }, t('board.deviceError', { code: r.error })) : null,
          r?.status && !r.error ? h('div', { class: 'muted small ellipsis' }, t('board.status', { status: r.status })) : null,
        );
      }),
    );
  };

  const renderSummary = () => {
    if (!snap) return;
    /** @type {Record<string, number>} */
    const counts = {};
    for (const i of snap.instruments) counts[i.state] = (counts[i.state] ?? 0) + 1;
    const total = snap.instruments.reduce((a, i) => a + i.effective_today_h, 0);
    summary.replaceChildren(
      ...STATES.filter((st) => (counts[st] ?? 0) > 0 || st === 'active').map((st) =>
        h('span', { class: `count st-${st}`, 'data-state': st }, h('span', { class: 'dot' }), `${t(/** @type {any} */ (`state.${st}`))} ${counts[st] ?? 0}`)),
      h('span', { class: 'count total' }, `${t('board.totalToday')}: ${fmtHours(total)} h`),
    );
  };

  const renderAgents = () => {
    if (!snap) return;
    if (snap.agents.length === 0) {
      agents.replaceChildren(h('p', { class: 'muted' }, t('board.noAgents')));
      return;
    }
    agents.replaceChildren(
      h('table', { class: 'table' },
        h('thead', {}, h('tr', {},
          h('th', {}, t('agent.id')), h('th', {}, t('agent.health')), h('th', {}, t('agent.lastBatch')),
          h('th', { class: 'num' }, t('agent.outbox')), h('th', {}, t('agent.failing')), h('th', { class: 'num' }, t('agent.clock')))),
        h('tbody', {},
          ...snap.agents.map((a) => {
            const health = agentHealth(a);
            return h('tr', { 'data-agent': a.id, 'data-health': health },
              h('td', {}, a.id),
              h('td', {}, h('span', { class: `badge health-${health}` }, h('span', { class: 'dot' }), t(/** @type {any} */ (`health.${health}`)))),
              h('td', { class: 'ago', 'data-ts': a.last_batch_at ?? '' }, fmtAgo(a.last_batch_at, now())),
              h('td', { class: 'num' }, a.status ? String(a.status.outbox_depth) : '—'),
              h('td', { class: 'small' }, a.status && a.status.failing_instruments.length > 0 ? a.status.failing_instruments.join(', ') : t('common.none')),
              h('td', { class: 'num' }, a.clock_skew_ms === null ? '—' : `${fmtNumber(a.clock_skew_ms / 1000, 1)} s`),
            );
          })),
      ),
    );
  };

  const renderChanges = () => {
    if (!snap) return;
    const tz = snap.time_zone;
    const names = new Map(snap.instruments.map((i) => [i.id, i.name ?? i.id]));
    if (changes.length === 0) {
      log.replaceChildren(h('li', { class: 'muted' }, t('board.noChanges')));
      return;
    }
    log.replaceChildren(
      ...changes.map((c) =>
        h('li', {},
          h('span', { class: 'muted' }, fmtTime(c.at, tz, { seconds: true })), ' ',
          h('a', { href: `#/instrument/${encodeURIComponent(c.instrument_id)}` }, names.get(c.instrument_id) ?? c.instrument_id), ' ',
          stateBadge(c.from, t(/** @type {any} */ (`state.${c.from}`))), ' → ', stateBadge(c.to, t(/** @type {any} */ (`state.${c.to}`))))),
    );
  };

  /** Only the relative times move between snapshots. */
  const tick = () => {
    for (const el of main.querySelectorAll('.ago')) {
      const ts = el.getAttribute('data-ts');
      el.textContent = fmtAgo(ts ? Number(ts) : null, now());
    }
  };

  const unsubscribe = subscribe('/api/v1/events', {
    /** @param {Snapshot} data */
    snapshot(data) {
      snap = data;
      skew = data.server_time - Date.now();
      noteChanges(data.changes);
      renderSummary();
      renderCards();
      renderAgents();
      renderChanges();
      updated.textContent = t('board.updated', { time: fmtTime(data.server_time, data.time_zone, { seconds: true }) });
      main.setAttribute('data-snapshots', String(Number(main.getAttribute('data-snapshots') ?? 0) + 1));
    },
    /** @param {{ server_time: number }} data */
    heartbeat(data) {
      skew = data.server_time - Date.now();
      tick();
    },
  }, ctx.setConnection);
  const timer = setInterval(tick, 1000);
  return () => {
    unsubscribe();
    clearInterval(timer);
    main.removeAttribute('data-snapshots');
  };
}
