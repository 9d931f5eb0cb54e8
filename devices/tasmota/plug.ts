/**
 * Tasmota smart plug with energy monitoring (Sonoff POW, Athom, Nous A1T, Gosund... flashed with Tasmota).
 *
 * Tasmota publishes its telemetry every TelePeriod (default 300 s, often set to 10-60 s): `tele/<topic>/SENSOR`
 * with the ENERGY object, `tele/<topic>/STATE` with the relay word, and `stat/<topic>/POWER` whenever the relay
 * switches. `tele/<topic>/LWT` is retained: `Online`, or `Offline` set by the broker as the last will.
 *
 * Status: the relay word. A relay that is OFF means the instrument is off (`off: OFF`); ON says nothing about
 * the instrument (it may be idle or running), so it stays unmapped (`ON`) and the collector classifies by power.
 */
import type { MqttProfile, StatusSource } from '../profile.ts';

const relay = (path: string): StatusSource => ({ path, map: { OFF: 'off' }, values: ['ON', 'OFF'] });

export const tasmotaPlug: MqttProfile = {
  kind: 'mqtt',
  id: 'tasmota-plug',
  vendor: 'Tasmota',
  model: 'Smart plug with energy monitoring (single relay)',
  description:
    'Any single-relay plug running Tasmota with an energy chip (HLW8012, BL0937, CSE7766, BL0942). Transport topic: ' +
    "the device's MQTT Topic (e.g. mqtt://broker:1883/tasmota_4F2A1B). Dual-channel devices report arrays " +
    '(ENERGY.Power = [a, b]): declare a custom profile with paths such as ENERGY.Power.0.',
  source:
    'shared/DEVICES.md "MQTT smart plugs" (payloads captured from Tasmota 12/13) and the Tasmota documentation: ' +
    'https://tasmota.github.io/docs/MQTT/ (topics, LWT) and https://tasmota.github.io/docs/Power-Monitoring-Calibration/ ' +
    '(ENERGY fields: Total kWh, Power W, ApparentPower VA, ReactivePower var, Factor, Voltage V, Current A; ' +
    'Frequency Hz on chips that measure it).',
  transports: ['mqtt'],
  messages: [
    {
      topic: 'tele/{topic}/SENSOR',
      format: 'json',
      fields: [
        { field: 'power_w', path: 'ENERGY.Power', unit: 'W' },
        { field: 'energy_kwh', path: 'ENERGY.Total', unit: 'kWh' },
        { field: 'voltage_v', path: 'ENERGY.Voltage', unit: 'V' },
        { field: 'current_a', path: 'ENERGY.Current', unit: 'A' },
        { field: 'power_factor', path: 'ENERGY.Factor', unit: '1' },
        { field: 'apparent_power_va', path: 'ENERGY.ApparentPower', unit: 'VA' },
        { field: 'reactive_power_var', path: 'ENERGY.ReactivePower', unit: 'var' },
        { field: 'frequency_hz', path: 'ENERGY.Frequency', unit: 'Hz' },
      ],
    },
    { topic: 'tele/{topic}/STATE', format: 'json', fields: [], status: relay('POWER') },
    { topic: 'stat/{topic}/POWER', format: 'text', fields: [], status: relay('') },
  ],
  availability: { topic: 'tele/{topic}/LWT', format: 'text', online: ['Online'], offline: ['Offline'] },
  // Default TelePeriod is 300 s: three missed periods make the values stale.
  staleAfterS: 900,
};
