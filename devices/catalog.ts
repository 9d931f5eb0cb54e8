/**
 * The device catalog: every profile jishi ships, by id. Adding a device is adding its profile file
 * and one line here; test/catalog checks walk this list.
 */
import type { DeviceProfile } from './profile.ts';
import { adw300 } from './acrel/adw300.ts';
import { dtsu666 } from './chint/dtsu666.ts';
import { sdm120 } from './eastron/sdm120.ts';
import { sdm230 } from './eastron/sdm230.ts';
import { sdm630 } from './eastron/sdm630.ts';
import { dds238 } from './hiking/dds238.ts';
import { genericMqttJson } from './generic/mqtt-json.ts';
import { genericScpi } from './generic/scpi.ts';
import { genericStatusLine } from './generic/status-line.ts';
import { mettlerMtSics } from './mettler/mt-sics.ts';
import { pfeifferTpg26x } from './pfeiffer/tpg26x.ts';
import { shellyGen1Plug } from './shelly/gen1-plug.ts';
import { shellyGen2Switch } from './shelly/gen2-switch.ts';
import { tasmotaPlug } from './tasmota/plug.ts';
import { zigbee2mqttPlug } from './zigbee2mqtt/plug.ts';

const ALL: readonly DeviceProfile[] = [
  // Modbus energy meters
  sdm120,
  sdm230,
  sdm630,
  dtsu666,
  dds238,
  adw300,
  // MQTT smart plugs
  tasmotaPlug,
  shellyGen1Plug,
  shellyGen2Switch,
  zigbee2mqttPlug,
  genericMqttJson,
  // Serial instruments
  genericScpi,
  genericStatusLine,
  pfeifferTpg26x,
  mettlerMtSics,
];

/** Profile id -> profile. Ids are unique (checked at module load). */
export const CATALOG: ReadonlyMap<string, DeviceProfile> = (() => {
  const map = new Map<string, DeviceProfile>();
  for (const p of ALL) {
    if (map.has(p.id)) throw new Error(`duplicate device profile id "${p.id}"`);
    map.set(p.id, Object.freeze(p));
  }
  return map;
})();

/** The profile with this catalog id (e.g. `eastron-sdm120`), or undefined. */
export function getProfile(id: string): DeviceProfile | undefined {
  return CATALOG.get(id);
}

/** Every profile, in catalog order. */
export function listProfiles(): DeviceProfile[] {
  return [...CATALOG.values()];
}

/** Every catalog id, in catalog order. */
export function profileIds(): string[] {
  return [...CATALOG.keys()];
}
