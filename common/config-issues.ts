/**
 * Shared by the agent and collector configs: reading the file, and turning TypeBox schema errors into
 * ConfigIssues with friendly messages, the instrument they belong to, and the bad value (never a secret).
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { IdPattern } from './wire.ts';

/** What differs between the config files. */
export interface SchemaIssueOptions {
  /** Paths whose values are secrets: they are never quoted back. */
  secretPath: RegExp;
  /** Messages for string-pattern failures at matching paths, tried before the generic `must match <pattern>`. */
  patternHints?: ReadonlyArray<{ path: RegExp; message: string }>;
  /** Say "seconds" after the range of a key ending in `_s`. */
  secondsSuffix?: boolean;
}

/** Reads a config file as UTF-8. @throws ConfigError naming the file when it cannot be read. */
export async function readConfigFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
}

/** Parses config YAML into a plain value (duplicate keys are errors). @throws ConfigError naming the file and each YAML error. */
export function parseConfigYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: '', message: `YAML ${e.code}: ${e.message.split('\n')[0]!.replace(/:$/, '')}` })),
    );
  }
  return doc.toJS() as unknown;
}

/** A plain object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The instrument id a JSON pointer under /instruments/N belongs to, when it has a usable one; else `#N+1`. */
export function instrumentAt(root: unknown, path: string): string | undefined {
  const m = /^\/instruments\/(\d+)(\/|$)/.exec(path);
  if (!m || !isRecord(root) || !Array.isArray(root.instruments)) return undefined;
  const entry: unknown = root.instruments[Number(m[1])];
  if (isRecord(entry) && typeof entry.id === 'string' && entry.id !== '') return entry.id;
  return `#${Number(m[1]) + 1}`;
}

/** The values of a union of literals (`Type.Union([Type.Literal(...), ...])`), else undefined. */
function literalChoices(schema: unknown): unknown[] | undefined {
  const anyOf = (schema as { anyOf?: unknown }).anyOf;
  if (!Array.isArray(anyOf) || anyOf.length === 0) return undefined;
  if (!anyOf.every((member) => isRecord(member) && 'const' in member)) return undefined;
  return anyOf.map((member) => (member as { const: unknown }).const);
}

function schemaMessage(error: ValueError, options: SchemaIssueOptions): string {
  const s = error.schema as { minimum?: number; maximum?: number; pattern?: string; minItems?: number };
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return `unknown key "${error.path.split('/').pop()}"`;
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.IntegerMaximum:
      return `must be between ${s.minimum} and ${s.maximum}${options.secondsSuffix && error.path.endsWith('_s') ? ' seconds' : ''}`;
    case ValueErrorType.StringPattern: {
      if (s.pattern === IdPattern) return 'must be 1-64 letters, digits or . _ : - and start with a letter or digit';
      const hint = options.patternHints?.find((h) => h.path.test(error.path));
      return hint ? hint.message : `must match ${s.pattern}`;
    }
    case ValueErrorType.ArrayMinItems:
      return `must list at least ${s.minItems} entr${s.minItems === 1 ? 'y' : 'ies'}`;
    case ValueErrorType.Union: {
      const choices = literalChoices(error.schema);
      if (choices) return `must be one of ${choices.join(', ')}`;
      return error.message.replace(/^Expected/, 'expected');
    }
    default:
      return error.message.replace(/^Expected/, 'expected');
  }
}

/** One schema error as a ConfigIssue; values at secret paths are never quoted. */
export function schemaIssue(error: ValueError, root: unknown, options: SchemaIssueOptions): ConfigIssue {
  const instrument = instrumentAt(root, error.path);
  const secret = options.secretPath.test(error.path);
  const hasValue = error.value !== undefined && error.type !== ValueErrorType.ObjectRequiredProperty && !secret;
  return {
    path: error.path,
    ...(instrument ? { instrument } : {}),
    ...(hasValue ? { value: error.value } : {}),
    message: schemaMessage(error, options),
  };
}

/**
 * Every schema error of `value` as ConfigIssues: a missing key is reported once (not again as a type error),
 * and repeated path+message pairs are dropped.
 */
export function schemaIssues(schema: TSchema, value: unknown, options: SchemaIssueOptions): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const missing = new Set<string>();
  for (const error of Value.Errors(schema, value)) {
    if (missing.has(error.path)) continue;
    if (error.type === ValueErrorType.ObjectRequiredProperty) missing.add(error.path);
    issues.push(schemaIssue(error, value, options));
  }
  return dedupeIssues(issues);
}

/** Keeps one issue per path and message (TypeBox reports a union failure once per member in some versions). */
export function dedupeIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Orders issues as they appear in the file (stable for issues on the same path). */
export function sortByPath(issues: ConfigIssue[]): ConfigIssue[] {
  const collator = new Intl.Collator('en', { numeric: true });
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => collator.compare(a.issue.path, b.issue.path) || a.i - b.i)
    .map((x) => x.issue);
}

/**
 * Checks a base URL setting (`collector.url`, `influx.url`): http or https, no credentials, query or fragment
 * (they would be logged, or end up inside request paths). Returns it without trailing slashes when valid.
 */
export function checkBaseUrl(value: string, path: string, example: string, issues: ConfigIssue[]): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    issues.push({ path, value, message: `is not a URL; expected e.g. ${example}` });
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    issues.push({ path, value, message: `must be an http: or https: URL, e.g. ${example}` });
    return undefined;
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    // Not quoted: the value may hold a password.
    issues.push({ path, message: 'must not carry credentials, a query or a fragment' });
    return undefined;
  }
  return url.href.replace(/\/+$/, '');
}
