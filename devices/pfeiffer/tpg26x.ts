/**
 * Pfeiffer Vacuum TPG 261 / TPG 262 (Single/DualGauge) total pressure gauge controllers, RS-232.
 *
 * Exchange: the host sends `PR1` CR LF, the gauge acknowledges with ACK (0x06) CR LF (NAK 0x15 when it refuses),
 * the host sends ENQ (0x05) and the gauge answers `<status>,<value>` CR LF, e.g. `0,+1.0000E+03`.
 * Status: 0 ok, 1 underrange, 2 overrange, 3 sensor error, 4 sensor off, 5 no sensor, 6 identification error.
 * The value is in the gauge's display unit, mbar by default (1 mbar = 1 hPa).
 */
import type { SerialProfile } from '../profile.ts';

const NR = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;

export const pfeifferTpg26x: SerialProfile = {
  kind: 'serial',
  id: 'pfeiffer-tpg26x',
  vendor: 'Pfeiffer Vacuum',
  model: 'TPG 261 / TPG 262',
  description: 'Total pressure gauge controller, gauge 1 (PR1) over RS-232, ACK/ENQ handshake',
  source:
    'Pfeiffer Vacuum TPG 261/262 operating instructions, "Communication (serial interface)": PR1 -> ACK, ENQ -> ' +
    '"status,value"; status codes 0..6; default unit mbar (UNI 0) and 9600 8N1. As collected in shared/DEVICES.md. ' +
    'The gauge must display mbar (or hPa): with Torr or Pa set (UNI command) the values would be wrong. The value is ' +
    'kept only with status 0..2 (ok, underrange, overrange); with 3..6 there is no measurement.',
  transports: ['serial'],
  defaults: { baud: 9600 },
  mode: 'query',
  terminator: '\r\n',
  steps: [{ send: 'PR1\r\n' }, { expect: '\x06' }, { send: '\x05' }],
  // The pressure group only takes part when the status is 0, 1 or 2 (the lookbehinds); with 3..9 any value goes.
  pattern: String.raw`^(?<status>\d),\s*(?:(?<=^[012],\s*)(?<pressure>${NR})|(?<=^[3-9],\s*)\S+)\s*$`,
  fields: [{ field: 'pressure_hpa', path: 'pressure', unit: 'hPa' }],
  // 0 (ok), 1 (underrange), 2 (overrange) stay unmapped: the gauge works; its controller's state decides.
  status: { path: 'status', map: { '3': 'fault', '5': 'fault', '6': 'fault', '4': 'off' } },
  template: '{status},{pressure}',
  simulate: {
    status: { active: '0', standby: '0' },
    values: { pressure_hpa: { from: 'power_w', scale: 0.001, format: { style: 'exponential', digits: 4 } } },
  },
};
