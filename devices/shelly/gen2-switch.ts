/**
 * Shelly Gen2 / Plus / Pro / Gen3 switch with metering (Plus Plug S, Plus 1PM, Pro 1PM, 1PM Gen3), switch 0.
 *
 * With "generic status update" enabled in the MQTT settings the device publishes the full switch status to
 * `<prefix>/status/switch:0` and partial changes as JSON-RPC NotifyStatus notifications on
 * `<prefix>/events/rpc` (only what changed, e.g. `params.switch:0.apower`); a delta overlays the last full
 * status. `<prefix>/online` is `true`/`false` (retained, `false` is the last will). aenergy.total is in Wh.
 *
 * Status: `output` false maps to the off state; true stays unmapped (the relay is on, nothing more).
 */
import type { MqttMessage, MqttProfile, StatusSource, ValueField } from '../profile.ts';

const output: (path: string) => StatusSource = (path) => ({ path, map: { false: 'off' }, values: [true, false] });

function switchFields(prefix: string): ValueField[] {
  return [
    { field: 'power_w', path: `${prefix}apower`, unit: 'W' },
    // aenergy.total: Wh -> kWh
    { field: 'energy_kwh', path: `${prefix}aenergy.total`, scale: 0.001, unit: 'kWh' },
    { field: 'voltage_v', path: `${prefix}voltage`, unit: 'V' },
    { field: 'current_a', path: `${prefix}current`, unit: 'A' },
    { field: 'power_factor', path: `${prefix}pf`, unit: '1' },
    { field: 'frequency_hz', path: `${prefix}freq`, unit: 'Hz' },
  ];
}

const status: MqttMessage = {
  topic: '{topic}/status/switch:0',
  format: 'json',
  fields: switchFields(''),
  status: output('output'),
};

const notifyStatus: MqttMessage = {
  topic: '{topic}/events/rpc',
  format: 'json',
  when: { path: 'method', equals: 'NotifyStatus' },
  fields: switchFields('params.switch:0.'),
  status: output('params.switch:0.output'),
};

export const shellyGen2Switch: MqttProfile = {
  kind: 'mqtt',
  id: 'shelly-gen2-switch',
  vendor: 'Shelly',
  model: 'Gen2 / Plus / Pro / Gen3 switch with metering (Plus Plug S, Plus 1PM), switch 0',
  description:
    'Shelly Gen2+ device with power metering; enable MQTT with "generic status update". Transport topic: the MQTT ' +
    'topic prefix (default the device id, e.g. mqtt://broker:1883/shellyplusplugs-e465b8b1f2c0). Reads switch 0.',
  source:
    'shared/DEVICES.md "MQTT smart plugs" and the Shelly Gen2+ API documentation: ' +
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt (status/<component:id> with status_ntf, ' +
    'events/rpc, online), https://shelly-api-docs.shelly.cloud/gen2/General/Notifications (NotifyStatus deltas ' +
    'overlay the last status) and https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch#status ' +
    '(apower W, voltage V, current A, pf, freq Hz, aenergy.total Wh, output).',
  transports: ['mqtt'],
  messages: [status, notifyStatus],
  availability: { topic: '{topic}/online', format: 'text', online: ['true'], offline: ['false'] },
};
