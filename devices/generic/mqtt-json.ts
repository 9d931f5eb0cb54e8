/**
 * A generic MQTT device publishing JSON on one topic: the template for your own devices (an ESPHome or
 * Node-RED flow, a lab PC script, a DIY energy monitor).
 *
 *   <topic>  {"power": 412.5, "energy": 1234.567, "status": "active"}
 *
 * Every key is optional in each message (a message updates only what it carries).
 */
import type { MqttProfile } from '../profile.ts';

export const genericMqttJson: MqttProfile = {
  kind: 'mqtt',
  id: 'generic-mqtt-json',
  vendor: 'Generic',
  model: 'JSON on one MQTT topic',
  description:
    'Any device that publishes {"power": W, "energy": kWh, "status": "..."} on one topic; the transport topic is ' +
    'that topic (mqtt://broker:1883/lab/centrifuge-2). status values off, standby, active and fault map to those ' +
    'states; any other text is sent as is (the collector\'s status rules apply). This profile is also the ' +
    'template for your own devices: custom MQTT profiles of this same shape (topic templates with {topic}, JSON ' +
    'dot paths or text payloads, scale/offset, a status map, an availability topic) can be declared in the agent ' +
    'config, without code.',
  source: 'jishi convention (docs/metric-schema.md units: power W, energy kWh); not a vendor format.',
  transports: ['mqtt'],
  messages: [
    {
      topic: '{topic}',
      format: 'json',
      fields: [
        { field: 'power_w', path: 'power', unit: 'W' },
        { field: 'energy_kwh', path: 'energy', unit: 'kWh' },
      ],
      status: { path: 'status', map: { off: 'off', standby: 'standby', active: 'active', fault: 'fault' } },
    },
  ],
};
