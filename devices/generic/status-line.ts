/**
 * A generic instrument that prints a status line by itself, periodically or on every change:
 * `STATUS RUN P=812.5`, `STATUS READY P=95.0`, `STATUS ERR 12`. The power part is optional.
 */
import type { SerialProfile } from '../profile.ts';

const NR = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;

export const genericStatusLine: SerialProfile = {
  kind: 'serial',
  id: 'generic-status-line',
  vendor: 'Generic',
  model: 'Status line printer',
  description: 'An instrument that prints "STATUS <word> [P=<watts>]" lines by itself (listen mode)',
  source:
    'shared/DEVICES.md "Serial instruments": many instruments print a status line periodically (STATUS RUN, READY, ' +
    'ERR 12). ERR is left unmapped on purpose: the collector\'s fault words classify it as a fault. Lines end in LF ' +
    'or CR LF (both are accepted).',
  transports: ['serial'],
  defaults: { baud: 9600 },
  mode: 'listen',
  terminator: '\n',
  // The status is a word, optionally followed by a numeric code (`ERR 12`).
  pattern: String.raw`^STATUS\s+(?<status>[A-Za-z]+(?:\s+\d+)?)(?:\s+P=(?<power>${NR}))?\s*$`,
  fields: [{ field: 'power_w', path: 'power', unit: 'W' }],
  status: { path: 'status', map: { RUN: 'active', READY: 'standby', IDLE: 'standby', OFF: 'off' } },
  template: 'STATUS {status} P={power}',
  staleAfterS: 60,
  simulate: { status: { fault: 'ERR 12' }, values: { power_w: { format: { style: 'fixed', digits: 1 } } } },
};
