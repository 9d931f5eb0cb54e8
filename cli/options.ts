/** Strict parsers for CLI option values: a bad value is an error that names it, never a silent default. */
import { InvalidArgumentError } from 'commander';

export function intOption(name: string, min: number, max: number) {
  return (raw: string): number => {
    if (!/^-?\d+$/.test(raw)) throw new InvalidArgumentError(`${name} must be an integer, got "${raw}".`);
    const n = Number(raw);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}.`);
    return n;
  };
}

export function numberOption(name: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${raw}".`);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}.`);
    return n;
  };
}

/** A local calendar day, YYYY-MM-DD, that exists (no 2025-02-30). */
export function dayArg(name: string) {
  return (raw: string): string => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
    const date = new Date(`${raw}T00:00:00Z`);
    const valid = m !== null && !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === raw;
    if (!valid) throw new InvalidArgumentError(`${name} must be a date written YYYY-MM-DD, got "${raw}".`);
    return raw;
  };
}
