/** Agent health: deliveries, outbox backlog, clock skew, device and uplink errors (agent_health). */
import { dashboard, influx, overrideName, row, stateTimeline, table, thresholds, timeseries, type Dashboard, type PanelSpec } from './grafana.ts';
import { AGENT_FILTER, agentsOnlinePanel, agentStatusPanel, agentVariable, DATASOURCE, q } from './jishi.ts';

/** A time series of agent_health fields per agent: `select` per interval (e.g. `max("outbox_depth")`); intervals without a batch are left out. */
function perAgent(o: { title: string; description: string; select: string; unit: string; alias?: string; w?: number }): PanelSpec {
  return timeseries({
    title: o.title,
    description: o.description,
    datasource: DATASOURCE,
    targets: [
      influx(DATASOURCE, q('SELECT', o.select, 'FROM "agent_health" WHERE', AGENT_FILTER, 'AND $timeFilter GROUP BY time($__interval), "agent_id" fill(none)'), {
        alias: o.alias ?? '$tag_agent_id',
      }),
    ],
    unit: o.unit,
    w: o.w ?? 12,
    h: 8,
  });
}

export function agentsDashboard(): Dashboard {
  return dashboard({
    uid: 'jishi-agents',
    title: 'jishi / Agent health',
    description: 'The agents as the collector sees them in their batches: deliveries, backlog, clock skew and errors (agent_health).',
    tags: ['jishi'],
    time: { from: 'now-24h', to: 'now' },
    refresh: '1m',
    variables: [agentVariable()],
    items: [
      row('Status'),
      agentsOnlinePanel(8, 5, AGENT_FILTER),
      agentStatusPanel(16, 5, AGENT_FILTER),
      table({
        title: 'Last delivery',
        description:
          'The last batch of each agent in the range: when it arrived, its samples, delay, clock correction, outbox backlog and device errors. Status fields are empty when that batch carried no agent_status.',
        datasource: DATASOURCE,
        targets: [
          influx(
            DATASOURCE,
            q(
              'SELECT "samples", "delay_s", "clock_offset_s", "outbox_depth", "outbox_oldest_age_s", "device_errors", "failing_instruments" FROM "agent_health" WHERE',
              AGENT_FILTER,
              'AND $timeFilter GROUP BY "agent_id" ORDER BY time DESC LIMIT 1',
            ),
            { format: 'table' },
          ),
        ],
        overrides: [
          overrideName('Time', { displayName: 'last delivery', unit: 'dateTimeFromNow' }),
          overrideName('agent_id', { displayName: 'agent' }),
          overrideName('delay_s', { displayName: 'delay', unit: 's' }),
          overrideName('clock_offset_s', { displayName: 'clock correction', unit: 's' }),
          overrideName('outbox_depth', { displayName: 'outbox backlog' }),
          overrideName('outbox_oldest_age_s', { displayName: 'oldest waiting', unit: 's' }),
          overrideName('device_errors', { displayName: 'failed device reads' }),
          overrideName('failing_instruments', { displayName: 'failing instruments' }),
        ],
        w: 24,
        h: 6,
      }),
      stateTimeline({
        title: 'Deliveries',
        description: 'Batches received per interval (at least 5 minutes): red when an agent delivered nothing in it.',
        datasource: DATASOURCE,
        targets: [
          influx(DATASOURCE, q('SELECT count("samples") AS "batches" FROM "agent_health" WHERE', AGENT_FILTER, 'AND $timeFilter GROUP BY time($__interval), "agent_id" fill(0)'), {
            alias: '$tag_agent_id',
          }),
        ],
        interval: '5m',
        color: { mode: 'thresholds' },
        thresholds: thresholds('red', [1, 'green']),
        mergeValues: false,
        showValue: 'never',
        w: 12,
        h: 8,
      }),
      perAgent({
        title: 'Samples delivered',
        description: 'Samples received per interval.',
        select: 'sum("samples") AS "samples"',
        unit: 'none',
      }),
      row('Backlog and clock'),
      perAgent({
        title: 'Outbox backlog',
        description: "Samples waiting in the agent's outbox when it sent a batch (that batch included): grows while the collector is unreachable.",
        select: 'max("outbox_depth") AS "outbox_depth"',
        unit: 'none',
      }),
      perAgent({
        title: 'Oldest waiting sample',
        description: 'Age of the oldest sample in the outbox at sending (agent clock): how far behind the agent is.',
        select: 'max("outbox_oldest_age_s") AS "outbox_oldest_age_s"',
        unit: 's',
      }),
      perAgent({
        title: 'Clock correction',
        description: 'The clock correction the collector applied to the batch (collector - agent clock; 0 within the threshold).',
        select: 'mean("clock_offset_s") AS "clock_offset_s"',
        unit: 's',
      }),
      perAgent({
        title: 'Delivery delay',
        description: 'received_at - sent_at of the batches (mean and max): network and queueing delay, plus clock skew when uncorrected.',
        select: 'mean("delay_s") AS "mean", max("delay_s") AS "max"',
        unit: 's',
        alias: '$tag_agent_id $col',
      }),
      row('Errors'),
      perAgent({
        title: 'Failed device reads',
        description: 'Failed device reads since the agent started (a counter: it restarts at 0 with the agent).',
        select: 'max("device_errors") AS "device_errors"',
        unit: 'none',
      }),
      perAgent({
        title: 'Failing instruments',
        description: 'Instruments whose latest read failed.',
        select: 'max("failing_instruments") AS "failing_instruments"',
        unit: 'none',
      }),
      perAgent({
        title: 'Dropped and lost samples',
        description: 'Samples the outbox dropped because it was full, and samples it could not store (since the agent started).',
        select: 'max("dropped_samples") AS "dropped", max("lost_samples") AS "lost"',
        unit: 'none',
        alias: '$tag_agent_id $col',
      }),
      perAgent({
        title: 'Uplink failures',
        description: 'Failed sends before the batch that got through.',
        select: 'max("uplink_failures") AS "uplink_failures"',
        unit: 'none',
      }),
    ],
  });
}
