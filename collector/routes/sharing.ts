/**
 * Open sharing API: the instrument registry, booking / usage records and the annual assessment export.
 *
 *   GET    /api/v1/registry                 every instrument's registry record
 *   GET    /api/v1/registry/:id             one record with the history of its changes
 *   PATCH  /api/v1/registry/:id             change asset fields / annual entries            (admin)
 *   GET    /api/v1/bookings?instrument=&from=&to=   bookings overlapping local days from..to
 *   POST   /api/v1/bookings                 import bookings: text/csv (the documented columns) or JSON (admin)
 *   DELETE /api/v1/bookings/:id             delete one booking                               (admin)
 *   GET    /api/v1/exports/annual?year=Y&format=xlsx|csv|html|json[&sheet=summary|sessions|mismatches]
 *
 * Reads are open like the rest of the read API; changes need an admin token (`admins` in the collector config).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import { API_PREFIX, Id, IdPattern } from '../../common/wire.ts';
import type { CollectorApp } from '../app.ts';
import type { EngineRunner } from '../engine-runner.ts';
import { addDays, dayStart, localDay } from '../engine/time-zone.ts';
import { isValidDay } from '../engine/calendar.ts';
import { buildAnnualReport, isReportYear } from '../sharing/annual.ts';
import { formatBookingErrors, parseBookingsCsv } from '../sharing/bookings-csv.ts';
import { bookingsFileText } from '../sharing/bookings-file.ts';
import { XLSX_CONTENT_TYPE } from '../sharing/bookings-xlsx.ts';
import { charsetOf } from '../sharing/csv-decode.ts';
import { annualCsv } from '../sharing/export-csv.ts';
import { API_FIELDS, annualOf, assetOf } from '../sharing/registry.ts';
import { annualSummaryHtml } from '../sharing/summary-html.ts';
import type { Booking } from '../sharing/types.ts';

/** The XLSX writer pulls in exceljs (~10 MB): loaded on the first workbook asked for, not at every collector start. */
const loadXlsxWriter = async (): Promise<typeof import('../sharing/export-xlsx.ts').writeAnnualXlsx> =>
  (await import('../sharing/export-xlsx.ts')).writeAnnualXlsx;

export const REGISTRY_PATH = `${API_PREFIX}/registry`;
export const BOOKINGS_PATH = `${API_PREFIX}/bookings`;
export const ANNUAL_EXPORT_PATH = `${API_PREFIX}/exports/annual`;
/** Largest CSV accepted by POST /api/v1/bookings (bytes). */
export const MAX_BOOKINGS_CSV_BYTES = 8 * 1024 * 1024;

export interface SharingRouteOptions {
  clock: Clock;
  engine: EngineRunner;
  /** sha256 of each admin token, by admin id. */
  admins: ReadonlyArray<{ id: string; tokenSha256: string }>;
  /** Configured instrument ids (listed in the export even without data). */
  instrumentIds: readonly string[];
  defaultRatedHours: number;
  thresholdCny: number;
}

const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Local day YYYY-MM-DD' });
const Text = Type.String({ minLength: 1, maxLength: 200 });
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Number> | ReturnType<typeof Type.Boolean>>(t: T) =>
  Type.Union([t, Type.Null()]);

const RegistryPatch = Type.Object(
  {
    name: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 128 }))),
    name_en: Type.Optional(Nullable(Text)),
    model: Type.Optional(Nullable(Text)),
    category_code: Type.Optional(Nullable(Type.String({ pattern: '^[0-9A-Za-z.-]{1,32}$' }))),
    manufacturer: Type.Optional(Nullable(Text)),
    country: Type.Optional(Nullable(Text)),
    original_value_cny: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1e11 }))),
    owner_unit: Type.Optional(Nullable(Text)),
    lab: Type.Optional(Nullable(Text)),
    location: Type.Optional(Nullable(Text)),
    contact: Type.Optional(Nullable(Text)),
    funding_source: Type.Optional(Nullable(Text)),
    shared: Type.Optional(Nullable(Type.Boolean())),
    asset_status: Type.Optional(Nullable(Text)),
    agent: Type.Optional(Nullable(Type.String({ pattern: IdPattern }))),
    annual: Type.Optional(
      Type.Array(
        Type.Object(
          {
            year: Type.Integer({ minimum: 2000, maximum: 2100 }),
            service_income_cny: Type.Optional(Type.Number({ minimum: 0, maximum: 1e11 })),
            trained_users: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 100 },
      ),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

const BookingBody = Type.Object(
  {
    instrument_id: Id,
    start: Type.Integer({ minimum: 0, description: 'ms since the epoch' }),
    end: Type.Integer({ minimum: 0 }),
    user: Type.String({ minLength: 1, maxLength: 200 }),
    organisation: Type.String({ minLength: 1, maxLength: 200 }),
    kind: Type.Union([Type.Literal('internal'), Type.Literal('external')]),
    purpose: Type.Optional(Type.String({ maxLength: 500 })),
    fee_cny: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9 })),
    samples: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e9 })),
  },
  { additionalProperties: false },
);
const BookingsJson = Type.Object({ bookings: Type.Array(BookingBody, { minItems: 1, maxItems: 100_000 }) }, { additionalProperties: false });

const ExportQuery = Type.Object(
  {
    year: Type.String({ pattern: '^\\d{4}$', description: 'Calendar year, e.g. 2025' }),
    format: Type.Optional(
      Type.Union([Type.Literal('xlsx'), Type.Literal('csv'), Type.Literal('html'), Type.Literal('json')], { description: 'Default xlsx' }),
    ),
    sheet: Type.Optional(
      Type.Union([Type.Literal('summary'), Type.Literal('sessions'), Type.Literal('mismatches')], { description: 'CSV only (default summary)' }),
    ),
  },
  { additionalProperties: false },
);

const BookingsQuery = Type.Object(
  { instrument: Type.Optional(Type.String({ minLength: 1 })), from: Type.Optional(Day), to: Type.Optional(Day) },
  { additionalProperties: false },
);

/** The admin id of the request's bearer token. @throws JishiError 401 without a valid token, 403 for another role. */
function requireAdmin(request: FastifyRequest, admins: SharingRouteOptions['admins'], access: CollectorApp['access']): string {
  if (admins.length === 0) {
    throw new JishiError('JISHI_ERR_UNAUTHORIZED', 'no admin is configured: add one to `admins` in the collector config (jishi token <id> --admin)');
  }
  return access.require(request, ['admin'], 'this change').id;
}

/**
 * The X-File-Name header: the name as it is, or `UTF-8''<percent-encoded>` (RFC 8187's form, what the web console
 * sends, since a header cannot carry 中文 as it is). Undefined when absent or empty.
 */
export function fileNameHeader(value: string | string[] | undefined): string | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  const m = /^utf-8''(.+)$/i.exec(raw.trim());
  if (m === null) return raw.trim();
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return raw.trim();
  }
}

export function registerSharingRoutes(app: CollectorApp, o: SharingRouteOptions): void {
  const { clock, engine } = o;
  const tz = engine.timeZone;
  const sharing = app.store.sharing;
  const knownIds = (): Set<string> =>
    new Set([...o.instrumentIds, ...sharing.registry().map((r) => r.id), ...app.store.instrumentIds()]);

  // CSV bodies for POST /api/v1/bookings (other routes stay JSON only).
  // Kept as bytes: the file may be GBK (Excel's plain "CSV" on Chinese Windows); see csv-decode.ts.
  app.addContentTypeParser(['text/csv', 'application/csv', XLSX_CONTENT_TYPE], { parseAs: 'buffer', bodyLimit: MAX_BOOKINGS_CSV_BYTES }, (_req, body, done) =>
    done(null, body),
  );

  app.get(REGISTRY_PATH, async () => {
    const records = new Map(sharing.registry().map((r) => [r.id, r]));
    const ids = [...knownIds()].sort();
    return {
      instruments: ids.map((id) => {
        const r = records.get(id);
        return { id, ...assetOf(r?.fields ?? {}), annual: annualOf(r?.fields ?? {}), fields: r?.fields ?? {}, updated_at: r?.updated_at ?? null };
      }),
    };
  });

  app.get<{ Params: { id: string } }>(`${REGISTRY_PATH}/:id`, async (request) => {
    const { id } = request.params;
    const r = sharing.registryRecord(id);
    if (!r && !knownIds().has(id)) throw new JishiError('JISHI_ERR_NOT_FOUND', `unknown instrument ${JSON.stringify(id)}`);
    return { id, ...assetOf(r?.fields ?? {}), annual: annualOf(r?.fields ?? {}), fields: r?.fields ?? {}, updated_at: r?.updated_at ?? null, history: sharing.registryHistory(id) };
  });

  app.patch<{ Params: { id: string }; Body: Static<typeof RegistryPatch> }>(
    `${REGISTRY_PATH}/:id`,
    { schema: { body: RegistryPatch } },
    async (request) => {
      const admin = requireAdmin(request, o.admins, app.access);
      const { id } = request.params;
      if (!knownIds().has(id)) throw new JishiError('JISHI_ERR_NOT_FOUND', `unknown instrument ${JSON.stringify(id)}: add it to the collector config first`);
      const body = request.body;
      const fields: Record<string, unknown> = {};
      for (const key of API_FIELDS) if (body[key] !== undefined) fields[key] = body[key];
      if (body.annual !== undefined) {
        const years = body.annual.map((e) => e.year);
        if (new Set(years).size !== years.length) throw new JishiError('JISHI_ERR_VALIDATION', 'body/annual lists a year twice');
        fields.annual = [...body.annual].sort((a, b) => a.year - b.year);
      }
      const changes = sharing.setRegistryFields(id, fields, `api:${admin}`, clock.now());
      request.log.info({ instrument: id, admin, fields: changes.map((c) => c.field) }, 'registry changed');
      return { id, changes };
    },
  );

  app.get<{ Querystring: Static<typeof BookingsQuery> }>(BOOKINGS_PATH, { schema: { querystring: BookingsQuery } }, async (request) => {
    const q = request.query;
    const today = localDay(clock.now(), tz);
    const fromDay = q.from ?? `${today.slice(0, 4)}-01-01`;
    const toDay = q.to ?? `${today.slice(0, 4)}-12-31`;
    for (const [name, day] of [['from', fromDay], ['to', toDay]] as const) {
      if (!isValidDay(day)) throw new JishiError('JISHI_ERR_VALIDATION', `querystring/${name} ${JSON.stringify(day)} is not a calendar date`);
    }
    if (toDay < fromDay) throw new JishiError('JISHI_ERR_VALIDATION', `querystring/to (${toDay}) is before querystring/from (${fromDay})`);
    const ids = q.instrument?.split(',');
    return { time_zone: tz, from: fromDay, to: toDay, bookings: sharing.bookings(ids, dayStart(fromDay, tz), dayStart(addDays(toDay, 1), tz)) };
  });

  app.post(BOOKINGS_PATH, async (request: FastifyRequest, reply: FastifyReply) => {
    const admin = requireAdmin(request, o.admins, app.access);
    const now = clock.now();
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const known = knownIds();
    let good: Array<Booking & { source: string }>;
    let errors: Array<{ line?: number; index?: number; column?: string; value?: string; message: string }> = [];
    let warnings: Array<{ line?: number; column?: string; message: string }> = [];
    if (type === 'text/csv' || type === 'application/csv' || type === XLSX_CONTENT_TYPE) {
      const xlsx = type === XLSX_CONTENT_TYPE;
      const file = fileNameHeader(request.headers['x-file-name']) ?? (xlsx ? 'upload.xlsx' : 'upload.csv');
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.from(String(request.body ?? ''), 'utf8');
      const { text, notes } = await bookingsFileText(body, { xlsx, charset: charsetOf(request.headers['content-type']) });
      const parsed = parseBookingsCsv(text, { file, timeZone: tz, knownInstruments: known, now });
      good = parsed.bookings.map(({ line, ...b }) => ({ ...b, source: `${file}:${line}` }));
      errors = parsed.errors;
      warnings = [...notes, ...parsed.warnings];
      if (errors.length > 0) request.log.warn({ admin, file, bad: errors.length }, formatBookingErrors(file, parsed.errors));
    } else {
      const { Value } = await import('@sinclair/typebox/value');
      if (!Value.Check(BookingsJson, request.body)) {
        const first = Value.Errors(BookingsJson, request.body).First();
        throw new JishiError('JISHI_ERR_VALIDATION', `body${first?.path ?? ''} ${first?.message ?? 'is not a bookings list'}`);
      }
      good = [];
      (request.body as Static<typeof BookingsJson>).bookings.forEach((b, index) => {
        if (!known.has(b.instrument_id)) errors.push({ index, column: 'instrument_id', value: b.instrument_id, message: 'unknown instrument' });
        else if (b.end <= b.start) errors.push({ index, column: 'end', value: String(b.end), message: 'end is not after start' });
        else good.push({ ...b, source: `api:${admin}` });
      });
    }
    const result = sharing.insertBookings(good, now);
    request.log.info({ admin, ...result, bad: errors.length }, 'bookings imported');
    // Good records are stored even when others are bad: 200 with the bad ones listed, 422 when none was good.
    reply.code(good.length === 0 && errors.length > 0 ? 422 : 200);
    return { ...result, rejected: errors.filter((e) => !('header' in e && e.header)).length, errors, warnings };
  });

  app.delete<{ Params: { id: string } }>(`${BOOKINGS_PATH}/:id`, async (request) => {
    requireAdmin(request, o.admins, app.access);
    const id = Number(request.params.id);
    if (!Number.isInteger(id) || sharing.deleteBookings([id]) === 0) throw new JishiError('JISHI_ERR_NOT_FOUND', `no booking ${JSON.stringify(request.params.id)}`);
    return { deleted: 1 };
  });

  app.get<{ Querystring: Static<typeof ExportQuery> }>(ANNUAL_EXPORT_PATH, { schema: { querystring: ExportQuery } }, async (request, reply) => {
    const year = Number(request.query.year);
    if (!isReportYear(year)) throw new JishiError('JISHI_ERR_VALIDATION', `querystring/year ${year} is not between 2000 and 2100`);
    const format = request.query.format ?? 'xlsx';
    if (request.query.sheet !== undefined && format !== 'csv') throw new JishiError('JISHI_ERR_VALIDATION', 'querystring/sheet applies to format=csv only');
    const report = buildAnnualReport({
      year,
      now: clock.now(),
      store: app.store,
      engine,
      timeZone: tz,
      defaultRatedHours: o.defaultRatedHours,
      thresholdCny: o.thresholdCny,
      instrumentIds: o.instrumentIds,
    });
    const name = `jishi-annual-${year}`;
    switch (format) {
      case 'json':
        return report;
      case 'html':
        return reply.type('text/html; charset=utf-8').send(annualSummaryHtml(report));
      case 'csv': {
        const sheet = request.query.sheet ?? 'summary';
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${name}${sheet === 'summary' ? '' : `-${sheet}`}.csv"`)
          .send(annualCsv(report, sheet));
      }
      default:
        return reply
          .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
          .header('content-disposition', `attachment; filename="${name}.xlsx"`)
          .send(await (await loadXlsxWriter())(report));
    }
  });
}
