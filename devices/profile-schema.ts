/**
 * Device profiles written as data in an agent config file (`profiles:`), for devices the catalog does not have:
 * the same three kinds as the catalog (modbus, mqtt, serial), in YAML with snake_case keys. toDeviceProfile turns
 * a validated entry into the DeviceProfile the drivers take; checkProfile holds the invariants every profile,
 * from the catalog or from a config file, must meet (the catalog test runs it over the whole catalog).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { KNOWN_READING_FIELDS, ReadingFieldPattern } from '../common/wire.ts';
import {
  DEVICE_STATES,
  REGISTER_COUNT,
  type DeviceProfile,
  type ModbusProfile,
  type MqttProfile,
  type SerialProfile,
  type StatusSource,
  type ValueField,
} from './profile.ts';

const ProfileId = Type.String({ pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', maxLength: 64, description: 'Profile id, lower-case words joined by -' });
const Text = (description: string) => Type.String({ minLength: 1, maxLength: 500, description });
const StateName = Type.Union(
  DEVICE_STATES.map((s) => Type.Literal(s)),
  { description: 'off, standby, active, fault or unknown' },
);
const FieldName = Type.String({ pattern: ReadingFieldPattern, description: 'Reading field, snake_case with the unit at the end (power_w)' });
const Unit = Type.String({ minLength: 1, maxLength: 16, description: 'Unit of the value, e.g. W, kWh' });

const common = {
  id: ProfileId,
  vendor: Type.Optional(Text('Maker')),
  model: Type.Optional(Text('Model')),
  description: Type.Optional(Text('What the device is')),
  source: Type.Optional(Text('Where the register map / payload format comes from')),
};

const ValueFieldSchema = Type.Object(
  {
    field: FieldName,
    path: Type.String({ maxLength: 200, description: 'MQTT: JSON dot path (empty for a text payload); serial: regex group name' }),
    scale: Type.Optional(Type.Number({ description: 'value = raw * scale + offset (default 1)' })),
    offset: Type.Optional(Type.Number({ description: 'Default 0' })),
    unit: Unit,
  },
  { additionalProperties: false },
);
const StatusSchema = Type.Object(
  {
    path: Type.String({ maxLength: 200, description: 'MQTT: JSON dot path (empty for a text payload); serial: regex group name' }),
    map: Type.Optional(Type.Record(Type.String({ minLength: 1 }), StateName, { description: 'Raw value -> state' })),
  },
  { additionalProperties: false },
);

const ModbusFieldSchema = Type.Object(
  {
    field: FieldName,
    fn: Type.Optional(Type.Union([Type.Literal(3), Type.Literal(4)], { description: '3 holding, 4 input registers (default 3)' })),
    address: Type.Integer({ minimum: 0, maximum: 65535, description: '0-based register offset' }),
    type: Type.Union(
      (Object.keys(REGISTER_COUNT) as Array<keyof typeof REGISTER_COUNT>).map((t) => Type.Literal(t)),
      { description: 'int16, uint16, int32, uint32, float32, float64' },
    ),
    order: Type.Optional(Type.Union(['ABCD', 'DCBA', 'BADC', 'CDAB'].map((o) => Type.Literal(o)), { description: 'Byte order (default ABCD)' })),
    scale: Type.Optional(Type.Number()),
    offset: Type.Optional(Type.Number()),
    unit: Unit,
  },
  { additionalProperties: false },
);

/** Request splitting and pacing, in a Modbus profile or an instrument's `modbus:` section. */
export const ModbusRequestSchema = Type.Object(
  {
    max_registers: Type.Optional(Type.Integer({ minimum: 1, maximum: 125, description: 'Most registers per request (default 125)' })),
    max_gap: Type.Optional(Type.Integer({ minimum: 0, maximum: 124, description: 'Unmapped registers bridged to merge two reads (default 0)' })),
    pause_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, description: 'Pause between two requests, ms (default 0)' })),
    one_request_per_field: Type.Optional(Type.Boolean({ description: 'Read every field with its own request (default false)' })),
  },
  { additionalProperties: false },
);
export type ModbusRequestEntry = Static<typeof ModbusRequestSchema>;

const ModbusProfileSchema = Type.Object(
  {
    kind: Type.Literal('modbus'),
    ...common,
    transports: Type.Optional(Type.Array(Type.Union([Type.Literal('modbus-tcp'), Type.Literal('modbus-rtu')]), { minItems: 1 })),
    unit: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, description: 'Default unit id (default 1)' })),
    baud: Type.Optional(Type.Integer({ minimum: 50, maximum: 4_000_000, description: 'Default baud rate (default 9600)' })),
    request: Type.Optional(ModbusRequestSchema),
    fields: Type.Array(ModbusFieldSchema, { minItems: 1, maxItems: 200 }),
  },
  { additionalProperties: false },
);

const MqttProfileSchema = Type.Object(
  {
    kind: Type.Literal('mqtt'),
    ...common,
    messages: Type.Array(
      Type.Object(
        {
          topic: Type.String({ minLength: 1, maxLength: 200, description: 'Topic template; {topic} is the topic of the transport URL' }),
          format: Type.Union([Type.Literal('json'), Type.Literal('text')]),
          when: Type.Optional(Type.Object({ path: Type.String({ minLength: 1 }), equals: Type.String() }, { additionalProperties: false })),
          fields: Type.Array(ValueFieldSchema, { maxItems: 100 }),
          status: Type.Optional(StatusSchema),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 20 },
    ),
    availability: Type.Optional(
      Type.Object(
        {
          topic: Type.String({ minLength: 1, maxLength: 200 }),
          format: Type.Union([Type.Literal('json'), Type.Literal('text')]),
          path: Type.Optional(Type.String({ minLength: 1 })),
          online: Type.Array(Type.String(), { minItems: 1 }),
          offline: Type.Array(Type.String(), { minItems: 1 }),
        },
        { additionalProperties: false },
      ),
    ),
    stale_after_s: Type.Optional(Type.Number({ minimum: 1, maximum: 86_400, description: 'Held values older than this are stale (default 900)' })),
  },
  { additionalProperties: false },
);

const SerialProfileSchema = Type.Object(
  {
    kind: Type.Literal('serial'),
    ...common,
    baud: Type.Optional(Type.Integer({ minimum: 50, maximum: 4_000_000, description: 'Default baud rate (default 9600)' })),
    mode: Type.Union([Type.Literal('listen'), Type.Literal('query')]),
    terminator: Type.String({ minLength: 1, maxLength: 4, description: 'Line terminator, e.g. "\\r\\n"' }),
    steps: Type.Optional(
      Type.Array(
        Type.Union([
          Type.Object({ send: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
          Type.Object({ expect: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        ]),
        { maxItems: 10 },
      ),
    ),
    pattern: Type.String({ minLength: 1, maxLength: 500, description: 'Regular expression with named groups' }),
    fields: Type.Array(ValueFieldSchema, { maxItems: 50 }),
    status: Type.Optional(StatusSchema),
    template: Type.String({ minLength: 1, maxLength: 500, description: 'A line the instrument sends, with {group} placeholders' }),
    stale_after_s: Type.Optional(Type.Number({ minimum: 1, maximum: 86_400, description: 'listen mode: a held line older than this is stale (default 60)' })),
  },
  { additionalProperties: false },
);

/** The schema of a `profiles:` entry, by its `kind` (an entry is checked against the schema of its kind). */
export const PROFILE_SCHEMAS: Readonly<Record<DeviceProfile['kind'], TSchema>> = {
  modbus: ModbusProfileSchema,
  mqtt: MqttProfileSchema,
  serial: SerialProfileSchema,
};
export type ProfileEntry = Static<typeof ModbusProfileSchema> | Static<typeof MqttProfileSchema> | Static<typeof SerialProfileSchema>;

const CUSTOM = 'declared in the agent config';

function valueField(f: Static<typeof ValueFieldSchema>): ValueField {
  return { field: f.field, path: f.path, unit: f.unit, ...(f.scale === undefined ? {} : { scale: f.scale }), ...(f.offset === undefined ? {} : { offset: f.offset }) };
}
function statusSource(s: Static<typeof StatusSchema> | undefined): { status?: StatusSource } {
  return s ? { status: { path: s.path, ...(s.map ? { map: s.map } : {}) } } : {};
}

/** A schema-valid `profiles:` entry as the DeviceProfile the drivers take. */
export function toDeviceProfile(e: ProfileEntry): DeviceProfile {
  const base = { id: e.id, vendor: e.vendor ?? 'custom', model: e.model ?? e.id, description: e.description ?? CUSTOM, source: e.source ?? CUSTOM };
  switch (e.kind) {
    case 'modbus': {
      const r = e.request;
      const request = r && {
        ...(r.max_registers === undefined ? {} : { maxRegisters: r.max_registers }),
        ...(r.max_gap === undefined ? {} : { maxGap: r.max_gap }),
        ...(r.pause_ms === undefined ? {} : { pauseMs: r.pause_ms }),
        ...(r.one_request_per_field === undefined ? {} : { oneRequestPerField: r.one_request_per_field }),
      };
      const p: ModbusProfile = {
        kind: 'modbus',
        ...base,
        transports: e.transports ?? ['modbus-tcp', 'modbus-rtu'],
        defaults: { unit: e.unit ?? 1, baud: e.baud ?? 9600 },
        ...(request ? { request } : {}),
        fields: e.fields.map((f) => ({ field: f.field, fn: f.fn ?? 3, address: f.address, type: f.type, order: (f.order ?? 'ABCD') as ModbusProfile['fields'][number]['order'], scale: f.scale ?? 1, offset: f.offset ?? 0, unit: f.unit })),
      };
      return p;
    }
    case 'mqtt': {
      const p: MqttProfile = {
        kind: 'mqtt',
        ...base,
        transports: ['mqtt'],
        messages: e.messages.map((m) => ({ topic: m.topic, format: m.format, ...(m.when ? { when: m.when } : {}), fields: m.fields.map(valueField), ...statusSource(m.status) })),
        ...(e.availability ? { availability: { ...e.availability } } : {}),
        ...(e.stale_after_s === undefined ? {} : { staleAfterS: e.stale_after_s }),
      };
      return p;
    }
    case 'serial': {
      const p: SerialProfile = {
        kind: 'serial',
        ...base,
        transports: ['serial'],
        defaults: { baud: e.baud ?? 9600 },
        mode: e.mode,
        terminator: e.terminator,
        ...(e.steps ? { steps: e.steps } : {}),
        pattern: e.pattern,
        fields: e.fields.map(valueField),
        ...statusSource(e.status),
        template: e.template,
        ...(e.stale_after_s === undefined ? {} : { staleAfterS: e.stale_after_s }),
      };
      return p;
    }
  }
}

/** Named groups of a regular expression source, in order. */
export function namedGroups(pattern: string): string[] {
  return [...pattern.matchAll(/\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g)].map((m) => m[1]!);
}

/**
 * The invariants every profile meets, as messages (empty when it is fine): reading field names and units
 * (known fields keep their documented unit), Modbus registers within range and fields not overlapping, MQTT
 * topics using {topic} and dot paths, serial patterns that compile, fields and status naming groups the
 * pattern has, and a template with a placeholder for every group.
 */
export function checkProfile(p: DeviceProfile): string[] {
  const problems: string[] = [];
  const known = KNOWN_READING_FIELDS as Record<string, string>;
  const fieldRe = new RegExp(ReadingFieldPattern);
  const checkField = (f: { field: string; unit: string }, where: string): void => {
    if (!fieldRe.test(f.field)) problems.push(`${where}: "${f.field}" is not a reading field name (snake_case, not status/error/time)`);
    if (f.unit.trim() === '') problems.push(`${where}: ${f.field} has no unit`);
    const unit = known[f.field];
    if (unit !== undefined && unit !== f.unit) problems.push(`${where}: ${f.field} must be in ${unit}, not ${f.unit}`);
  };
  const checkMap = (s: StatusSource | undefined, where: string): void => {
    for (const [raw, state] of Object.entries(s?.map ?? {})) {
      if (!DEVICE_STATES.includes(state)) problems.push(`${where}: status value "${raw}" maps to "${state}", not a state`);
    }
  };
  if (p.kind === 'modbus') {
    const seen = new Set<string>();
    const used = new Map<string, string>();
    for (const f of p.fields) {
      const where = `field ${f.field}`;
      checkField(f, where);
      if (seen.has(f.field)) problems.push(`${where}: declared twice`);
      seen.add(f.field);
      const width = REGISTER_COUNT[f.type];
      if (f.address < 0 || f.address + width - 1 > 0xffff) problems.push(`${where}: registers ${f.address}..${f.address + width - 1} run past 65535`);
      for (let r = f.address; r < f.address + width; r++) {
        const other = used.get(`${f.fn}:${r}`);
        if (other !== undefined) problems.push(`${where}: register ${r} (fn ${f.fn}) is also used by ${other}`);
        used.set(`${f.fn}:${r}`, f.field);
      }
      if (!Number.isFinite(f.scale) || f.scale === 0) problems.push(`${where}: scale must be a finite non-zero number`);
    }
  } else if (p.kind === 'mqtt') {
    const topics = [...p.messages.map((m) => m.topic), ...(p.availability ? [p.availability.topic] : [])];
    for (const t of topics) {
      if (!t.includes('{topic}')) problems.push(`topic ${t}: must contain {topic} (the device's topic from the transport URL)`);
      if (/[#+]/.test(t)) problems.push(`topic ${t}: wildcards are not allowed (one device, its own topics)`);
    }
    if (p.messages.every((m) => m.fields.length === 0 && !m.status)) problems.push('no message carries a field or a status');
    p.messages.forEach((m, i) => {
      const where = `message ${i + 1} (${m.topic})`;
      for (const f of m.fields) {
        checkField(f, where);
        if (m.format === 'text' && f.path !== '') problems.push(`${where}: ${f.field}: a text payload has no paths (use path "")`);
        if (m.format === 'json' && f.path === '') problems.push(`${where}: ${f.field}: a JSON payload needs a path`);
      }
      if (m.when && m.format !== 'json') problems.push(`${where}: "when" needs a JSON payload`);
      checkMap(m.status, where);
    });
    if (p.availability?.format === 'json' && !p.availability.path) problems.push('availability: a JSON payload needs a path');
  } else {
    let groups: string[] | undefined;
    try {
      new RegExp(p.pattern);
      groups = namedGroups(p.pattern);
    } catch (err) {
      problems.push(`pattern: not a valid regular expression: ${(err as Error).message}`);
    }
    if (groups?.length === 0) problems.push('pattern: has no named group, e.g. (?<power>[0-9.]+)');
    for (const f of p.fields) {
      checkField(f, `field ${f.field}`);
      if (groups && !groups.includes(f.path)) problems.push(`field ${f.field}: the pattern has no group "${f.path}"`);
    }
    if (groups && p.status && !groups.includes(p.status.path)) problems.push(`status: the pattern has no group "${p.status.path}"`);
    checkMap(p.status, 'status');
    for (const g of groups ?? []) if (!p.template.includes(`{${g}}`)) problems.push(`template: has no {${g}} placeholder`);
    if (p.mode === 'query' && !(p.steps ?? []).some((s) => 'send' in s)) problems.push('query mode needs a step that sends a command');
    if (p.fields.length === 0 && !p.status) problems.push('neither fields nor a status');
  }
  if (!p.transports.length) problems.push('no transports');
  return problems;
}
