import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../common/errors.ts';
import { KNOWN_READING_FIELDS } from '../common/wire.ts';

const read = (p: string): string => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');

describe('docs stay in step with the code', () => {
  it('docs/errors.md lists every error code with its HTTP status', () => {
    const doc = read('docs/errors.md');
    for (const [code, { status }] of Object.entries(ERRORS)) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\``));
      expect(row, code).toBeDefined();
      // Device codes are agent-side only and have no HTTP status column.
      if (!code.startsWith('JISHI_ERR_DEVICE')) expect(row).toContain(`| ${status} |`);
    }
  });

  it('docs/metric-schema.md lists every known reading field with its unit', () => {
    const doc = read('docs/metric-schema.md');
    for (const [field, unit] of Object.entries(KNOWN_READING_FIELDS)) {
      expect(doc, field).toContain(`| \`${field}\` | ${unit} |`);
    }
  });
});

describe('docs/drivers.md', () => {
  it('names every catalog profile of the MQTT and serial kinds, and every transport kind', async () => {
    const { readFileSync } = await import('node:fs');
    const { listProfiles } = await import('../devices/catalog.ts');
    const { TRANSPORT_KINDS } = await import('../common/transport-url.ts');
    const doc = readFileSync(new URL('../docs/drivers.md', import.meta.url), 'utf8');
    for (const p of listProfiles()) if (p.kind !== 'modbus') expect(doc, p.id).toContain(`\`${p.id}\``);
    for (const k of TRANSPORT_KINDS) expect(doc, k).toContain(`${k}://`);
  });
});

describe('docs/sharing.md', () => {
  it('documents every booking column with its aliases, and the export columns as the code has them', async () => {
    const { readFileSync } = await import('node:fs');
    const { BOOKING_COLUMNS } = await import('../collector/sharing/bookings-csv.ts');
    const { ANNUAL_COLUMNS, SESSION_COLUMNS, MISMATCH_COLUMNS, columnsMarkdown } = await import('../collector/sharing/export-columns.ts');
    const doc = readFileSync(new URL('../docs/sharing.md', import.meta.url), 'utf8');
    for (const c of BOOKING_COLUMNS) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${c.name}\` |`));
      expect(row, c.name).toBeDefined();
      for (const a of c.aliases) expect(row, `${c.name}: ${a}`).toContain(`\`${a}\``);
      expect(row).toContain(c.required ? '| yes |' : '| no |');
    }
    for (const cols of [ANNUAL_COLUMNS, SESSION_COLUMNS, MISMATCH_COLUMNS]) expect(doc).toContain(columnsMarkdown(cols).trim());
  });
});
