/** TypeBox schema errors -> ConfigIssues with friendly messages, the instrument id, and no secrets. */
import { ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import type { ConfigIssue } from '../common/errors.ts';
import { IdPattern } from '../common/wire.ts';

/** A plain object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The instrument id a JSON pointer under /instruments/N belongs to, when it has a usable one. */
export function instrumentAt(root: unknown, path: string): string | undefined {
  const m = /^\/instruments\/(\d+)(\/|$)/.exec(path);
  if (!m || !isRecord(root) || !Array.isArray(root.instruments)) return undefined;
  const entry: unknown = root.instruments[Number(m[1])];
  if (isRecord(entry) && typeof entry.id === 'string' && entry.id !== '') return entry.id;
  return `#${Number(m[1]) + 1}`;
}

function schemaMessage(error: ValueError): string {
  const s = error.schema as { minimum?: number; maximum?: number; pattern?: string; type?: string; minItems?: number };
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return `unknown key "${error.path.split('/').pop()}"`;
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.IntegerMaximum:
      return `must be between ${s.minimum} and ${s.maximum}${error.path.endsWith('_s') ? ' seconds' : ''}`;
    case ValueErrorType.StringPattern:
      return s.pattern === IdPattern
        ? 'must be 1-64 letters, digits or . _ : - and start with a letter or digit'
        : `must match ${s.pattern}`;
    case ValueErrorType.ArrayMinItems:
      return `must list at least ${s.minItems} entr${s.minItems === 1 ? 'y' : 'ies'}`;
    default:
      return error.message.replace(/^Expected/, 'expected');
  }
}

/** One schema error as a ConfigIssue (token values are never quoted). */
export function schemaIssue(error: ValueError, root: unknown): ConfigIssue {
  const instrument = instrumentAt(root, error.path);
  const secret = /\/token$/.test(error.path);
  const hasValue = error.value !== undefined && error.type !== ValueErrorType.ObjectRequiredProperty && !secret;
  return {
    path: error.path,
    ...(instrument ? { instrument } : {}),
    ...(hasValue ? { value: error.value } : {}),
    message: schemaMessage(error),
  };
}

/** Orders issues as they appear in the file (stable for issues on the same path). */
export function sortByPath(issues: ConfigIssue[]): ConfigIssue[] {
  const collator = new Intl.Collator('en', { numeric: true });
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => collator.compare(a.issue.path, b.issue.path) || a.i - b.i)
    .map((x) => x.issue);
}
