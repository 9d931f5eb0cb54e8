/**
 * A generic SCPI instrument (IEEE 488.2 over RS-232 or a USB virtual COM port) asked for its power with
 * `MEAS:POW?`. The answer is one number, NR1 / NR2 / NR3 (`812`, `812.5`, `+8.12500E+02`), in watts.
 */
import type { SerialProfile } from '../profile.ts';

/** NR1, NR2 or NR3 (SCPI-99 7.2), as a regular expression source. */
const NR = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;

export const genericScpi: SerialProfile = {
  kind: 'serial',
  id: 'generic-scpi',
  vendor: 'Generic',
  model: 'SCPI instrument (MEAS:POW?)',
  description: 'Any SCPI instrument that answers MEAS:POW? with its power in W (power analyzers, PSUs, loads)',
  source:
    'SCPI-99 and IEEE 488.2 (numbers NR1/NR2/NR3, terminators), as collected in shared/DEVICES.md "Serial ' +
    'instruments". The query differs between makers (MEAS:POW?, MEAS:POW:AC?, FETC:POW?): copy this profile into ' +
    'the agent config with your query if MEAS:POW? is not it. 9.9E37 / 9.91E37 (overload, not a number) are decode errors.',
  transports: ['serial'],
  defaults: { baud: 9600 },
  mode: 'query',
  terminator: '\n',
  steps: [{ send: 'MEAS:POW?\n' }],
  pattern: String.raw`^\s*(?<power>${NR})\s*$`,
  fields: [{ field: 'power_w', path: 'power', unit: 'W' }],
  template: '{power}',
  simulate: { values: { power_w: { format: { style: 'exponential', digits: 5, sign: true } } } },
};
