/** Fleet overview: every instrument's current state and state timeline, and which agents are online. */
import { dashboard, row, type Dashboard } from './grafana.ts';
import {
  agentsOnlinePanel,
  agentStatusPanel,
  currentStatePanel,
  instrumentVariable,
  labVariable,
  liveStateTable,
  stateTimelinePanel,
} from './jishi.ts';

export function fleetDashboard(): Dashboard {
  return dashboard({
    uid: 'jishi-fleet',
    title: 'jishi / Fleet overview',
    description: 'Every instrument: its live state and its state timeline; and the agents reading them.',
    tags: ['jishi'],
    time: { from: 'now-24h', to: 'now' },
    refresh: '1m',
    variables: [labVariable(), instrumentVariable()],
    items: [
      row('Instruments'),
      currentStatePanel(24, 5),
      stateTimelinePanel(24, 10),
      liveStateTable(24, 8),
      row('Agents'),
      agentsOnlinePanel(8, 5),
      agentStatusPanel(16, 5),
    ],
  });
}
