/**
 * The instrument registry: asset fields (DOMAIN.md "Per-instrument record"), rated hours, service dates,
 * thresholds and annual entries of every instrument, kept in the store with the history of every change.
 *
 * Who owns what:
 * - The collector config file is applied at every start: each field it sets is written to the registry, and a
 *   value that differs from the stored one is recorded as a change (source `config`). Fields the file does not
 *   set are left as they are.
 * - The API (PATCH /api/v1/registry/:id, admins only) changes the asset fields and annual entries (source
 *   `api:<admin id>`). Rated hours, service dates and thresholds drive the engine and the utilization API, so they
 *   belong to the config file alone; their changes between starts are in the history too.
 */
import type { Logger } from '../../common/log.ts';
import type { ConfiguredInstrument } from '../config.ts';
import { FAULT_WORDS_MATCH } from '../engine/params.ts';
import type { InfoSource } from '../influx/points.ts';
import type { RegistryFields, SharingStore } from '../store/sharing-store.ts';
import type { AnnualEntry, AssetFields } from './types.ts';

/** Every asset field, in the order of the annual form. */
export const ASSET_FIELDS = [
  'name',
  'name_en',
  'model',
  'category_code',
  'manufacturer',
  'country',
  'original_value_cny',
  'commissioned',
  'retired',
  'owner_unit',
  'lab',
  'location',
  'contact',
  'funding_source',
  'shared',
  'asset_status',
  'rated_hours',
  'agent',
] as const satisfies ReadonlyArray<keyof AssetFields>;

/** Asset fields that belong to the config file alone: rated hours and service dates drive the engine. */
const CONFIG_OWNED_FIELDS = ['commissioned', 'retired', 'rated_hours'] as const satisfies ReadonlyArray<(typeof ASSET_FIELDS)[number]>;

/** An asset field the API may change. */
export type ApiField = Exclude<(typeof ASSET_FIELDS)[number], (typeof CONFIG_OWNED_FIELDS)[number]>;

function isApiField(field: (typeof ASSET_FIELDS)[number]): field is ApiField {
  return !(CONFIG_OWNED_FIELDS as readonly string[]).includes(field);
}

/** Asset fields the API may change (the rest belong to the config file), in the order of ASSET_FIELDS. */
export const API_FIELDS: readonly ApiField[] = ASSET_FIELDS.filter(isApiField);

/** Engine parameters recorded in the registry (their changes are in the history). */
const ENGINE_FIELDS = ['off_w', 'active_w', 'hysteresis', 'min_dwell_s', 'max_gap_s', 'merge_gap_s', 'warmup_max_s', 'post_max_s'] as const;

/** The registry fields a configured instrument sets: asset fields, engine parameters, status rules, annual entries. */
export function configRegistryFields(instrument: ConfiguredInstrument): RegistryFields {
  const fields: RegistryFields = { ...instrument.asset, rated_hours: instrument.rated_hours };
  for (const key of ENGINE_FIELDS) fields[key] = instrument.params[key];
  // The instrument's own status rules (the built-in fault-word rule is always there).
  fields.status_states = instrument.params.status_states.filter((r) => r.match !== FAULT_WORDS_MATCH);
  if (instrument.annual.length > 0) fields.annual = [...instrument.annual].sort((a, b) => a.year - b.year);
  return fields;
}

/** Writes the config's registry fields to the store (at start); logs and returns how many fields changed. */
export function syncRegistryFromConfig(store: SharingStore, instruments: readonly ConfiguredInstrument[], now: number, logger?: Logger): number {
  let changed = 0;
  for (const instrument of instruments) {
    const changes = store.setRegistryFields(instrument.id, configRegistryFields(instrument), 'config', now);
    changed += changes.length;
    const later = changes.filter((c) => c.old_value !== null);
    if (later.length > 0) {
      logger?.info(
        { instrument: instrument.id, changes: later.map((c) => ({ field: c.field, from: c.old_value, to: c.new_value })) },
        `registry: ${later.map((c) => c.field).join(', ')} of ${instrument.id} changed in the config file (kept in the history)`,
      );
    }
  }
  return changed;
}

/** The asset fields of a registry record (unknown or mistyped values are left out). */
export function assetOf(fields: RegistryFields): AssetFields {
  const out: Record<string, unknown> = {};
  for (const key of ASSET_FIELDS) {
    const v = fields[key];
    if (v === undefined || v === null) continue;
    const numeric = key === 'original_value_cny' || key === 'rated_hours';
    if (numeric ? typeof v === 'number' : key === 'shared' ? typeof v === 'boolean' : typeof v === 'string') out[key] = v;
  }
  return out as AssetFields;
}

/** The annual entries of a registry record. */
export function annualOf(fields: RegistryFields): AnnualEntry[] {
  const v = fields.annual;
  if (!Array.isArray(v)) return [];
  return v.filter((e): e is AnnualEntry => typeof e === 'object' && e !== null && typeof (e as AnnualEntry).year === 'number');
}

/** The registry as the instrument_info measurement needs it (every known id; names and rated hours defaulted). */
export function registryInfo(store: { sharing: SharingStore }, ids: readonly string[], defaultRatedHours: number): InfoSource[] {
  const records = new Map(store.sharing.registry().map((r) => [r.id, r.fields]));
  return [...new Set([...ids, ...records.keys()])].sort().map((id) => {
    const a = assetOf(records.get(id) ?? {});
    return {
      id,
      ...(a.name !== undefined ? { name: a.name } : {}),
      ...(a.lab !== undefined ? { lab: a.lab } : {}),
      ...(a.owner_unit !== undefined ? { owner_unit: a.owner_unit } : {}),
      rated_hours: a.rated_hours ?? defaultRatedHours,
      ...(a.original_value_cny !== undefined ? { original_value_cny: a.original_value_cny } : {}),
      ...(a.shared !== undefined ? { shared: a.shared } : {}),
    };
  });
}
