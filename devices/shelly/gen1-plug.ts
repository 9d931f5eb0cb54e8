/**
 * Shelly Gen1 plug or relay with metering (Shelly Plug S, Plug, 1PM, 2.5 channel 0) over MQTT.
 *
 * Topics under `shellies/<id>/` (the id is `<model>-<MAC>`, e.g. `shellyplug-s-7C87CEB4B0F5`, or a custom
 * id set in the MQTT settings): `relay/0` = `on`/`off`, `relay/0/power` = W, `relay/0/energy` = counter in
 * watt-minutes, `online` = `true`/`false` (retained; `false` is the last will). Values are published every
 * `mqtt_update_period` (default 30 s).
 *
 * The Gen1 energy counter lives in RAM and restarts from 0 when the device reboots: the driver counts it as a
 * counter reset. Status: `off` maps to the off state; `on` stays unmapped (the relay says nothing more).
 */
import type { MqttProfile } from '../profile.ts';

export const shellyGen1Plug: MqttProfile = {
  kind: 'mqtt',
  id: 'shelly-gen1-plug',
  vendor: 'Shelly',
  model: 'Gen1 plug / relay with metering (Plug S, 1PM), channel 0',
  description:
    "Shelly Gen1 device with power metering, MQTT enabled. Transport topic: the device id (e.g. " +
    'mqtt://broker:1883/shellyplug-s-7C87CEB4B0F5). Reads relay 0.',
  source:
    'shared/DEVICES.md "MQTT smart plugs" and the Shelly Gen1 API documentation, MQTT section: ' +
    'https://shelly-api-docs.shelly.cloud/gen1/ (Shelly Plug / PlugS, MQTT: relay/0, relay/0/power W, ' +
    'relay/0/energy watt-minute counter, online true/false).',
  transports: ['mqtt'],
  messages: [
    {
      topic: 'shellies/{topic}/relay/0/power',
      format: 'text',
      fields: [{ field: 'power_w', path: '', unit: 'W' }],
    },
    {
      topic: 'shellies/{topic}/relay/0/energy',
      format: 'text',
      // watt-minutes -> kWh: 1 Wmin = 1/60 Wh = 1/60000 kWh
      fields: [{ field: 'energy_kwh', path: '', scale: 1 / 60000, unit: 'kWh' }],
    },
    {
      topic: 'shellies/{topic}/relay/0',
      format: 'text',
      fields: [],
      status: { path: '', map: { off: 'off' }, values: ['on', 'off'] },
    },
  ],
  availability: { topic: 'shellies/{topic}/online', format: 'text', online: ['true'], offline: ['false'] },
};
