/**
 * Mettler Toledo balances speaking MT-SICS (level 0), RS-232 or USB virtual COM port.
 *
 * `SI` CR LF asks for the weight immediately, stable or not: `S S      100.00 g` (stable), `S D      100.01 g`
 * (dynamic: the load is changing), `S I` (command not executable, e.g. busy taring), `S +` / `S -` (overload /
 * underload).
 */
import type { SerialProfile } from '../profile.ts';

const NR = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;

export const mettlerMtSics: SerialProfile = {
  kind: 'serial',
  id: 'mettler-mt-sics',
  vendor: 'Mettler Toledo',
  model: 'MT-SICS balance',
  description: 'Laboratory balance (MT-SICS level 0): weight in g and its stability, polled with SI',
  source:
    'Mettler Toledo MT-SICS interface command reference, command SI (send weight immediately) and its responses ' +
    'S S / S D / S I / S + / S -; 9600 8N1, CR LF, as collected in shared/DEVICES.md. The balance must show grams: ' +
    'a weight in another unit is a decode error. Stable reads as standby, dynamic (being loaded) as active, ' +
    'over- and underload as fault; S I (busy) is left unmapped.',
  transports: ['serial'],
  defaults: { baud: 9600 },
  mode: 'query',
  terminator: '\r\n',
  steps: [{ send: 'SI\r\n' }],
  pattern: String.raw`^S\s+(?<stability>[SDI+-])(?:\s+(?<mass>${NR})\s+g)?\s*$`,
  fields: [{ field: 'mass_g', path: 'mass', unit: 'g' }],
  status: { path: 'stability', map: { S: 'standby', D: 'active', '+': 'fault', '-': 'fault' } },
  template: 'S {stability}     {mass} g',
  simulate: {
    status: { off: 'S' },
    values: { mass_g: { from: 'power_w', scale: 0.1, format: { style: 'fixed', digits: 2 } } },
  },
};
