/**
 * A Zigbee smart plug with metering, through Zigbee2MQTT (Tuya TS011F, Aqara, IKEA Inspelning...).
 *
 * Zigbee2MQTT publishes the device state as one JSON object on `zigbee2mqtt/<friendly name>` whenever an
 * attribute changes (power W, energy kWh, voltage V, current A, state ON/OFF), and, with availability enabled,
 * the retained `{"state":"online"}` / `{"state":"offline"}` on `zigbee2mqtt/<friendly name>/availability`.
 * The legacy availability payload (plain `online` / `offline`, as Zigbee2MQTT 1.x published it with
 * `legacy_availability_payload`) is accepted too: a JSON availability topic also takes the bare word.
 *
 * Zigbee plugs report on change, and their periodic reports can be an hour apart when the load is steady; the
 * stale limit is therefore a little over an hour, and Zigbee2MQTT's availability (a router is pinged every
 * 10 min by default) is what notices a dead plug sooner. The base topic is assumed to be `zigbee2mqtt`; with
 * another base topic, declare a custom profile.
 *
 * Status: state OFF maps to the off state; ON stays unmapped (the relay is on, nothing more).
 */
import type { MqttProfile } from '../profile.ts';

export const zigbee2mqttPlug: MqttProfile = {
  kind: 'mqtt',
  id: 'zigbee2mqtt-plug',
  vendor: 'Zigbee2MQTT',
  model: 'Zigbee smart plug with metering',
  description:
    'A metering Zigbee plug bridged by Zigbee2MQTT (base topic zigbee2mqtt). Transport topic: the friendly name ' +
    '(e.g. mqtt://broker:1883/lab-plug-3). Some cheap plugs report false zero watts now and then: the state ' +
    "classifier's dwell times absorb that.",
  source:
    'shared/DEVICES.md "MQTT smart plugs" and the Zigbee2MQTT documentation: ' +
    'https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html (zigbee2mqtt/<name>), ' +
    'https://www.zigbee2mqtt.io/guide/configuration/device-availability.html (retained <name>/availability) ' +
    'and the device pages (e.g. https://www.zigbee2mqtt.io/devices/TS011F_plug_1.html: ' +
    'power W, energy kWh, voltage V, current A, state ON/OFF).',
  transports: ['mqtt'],
  messages: [
    {
      topic: 'zigbee2mqtt/{topic}',
      format: 'json',
      fields: [
        { field: 'power_w', path: 'power', unit: 'W' },
        { field: 'energy_kwh', path: 'energy', unit: 'kWh' },
        { field: 'voltage_v', path: 'voltage', unit: 'V' },
        { field: 'current_a', path: 'current', unit: 'A' },
      ],
      status: { path: 'state', map: { OFF: 'off' }, values: ['ON', 'OFF'] },
    },
  ],
  availability: {
    topic: 'zigbee2mqtt/{topic}/availability',
    format: 'json',
    path: 'state',
    online: ['online'],
    offline: ['offline'],
  },
  staleAfterS: 3900,
};
