/** Every jishi dashboard, and the files dashboards/generate.ts writes for them. */
import { agentsDashboard } from './agents.ts';
import { fleetDashboard } from './fleet.ts';
import { renderDashboard, type Dashboard } from './grafana.ts';
import { instrumentDashboard } from './instrument.ts';
import { utilizationDashboard } from './utilization.ts';

export function buildDashboards(): Dashboard[] {
  return [fleetDashboard(), instrumentDashboard(), utilizationDashboard(), agentsDashboard()];
}

/** File name (in dashboards/generated/) -> content, for every dashboard: `<uid>.json`. */
export function generatedFiles(): Map<string, string> {
  return new Map(buildDashboards().map((d) => [`${d.uid}.json`, renderDashboard(d)]));
}
