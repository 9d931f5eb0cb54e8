import { describe, expect, it } from 'vitest';
import { isFaultStatus } from '../collector/engine/fault-words.ts';

describe('isFaultStatus', () => {
  it.each([
    ['ERR', true],
    ['ERR05', true],
    ['Error: vacuum', true],
    ['errors present', true],
    ['ALARM_HIGH_TEMP', true],
    ['Fault', true],
    ['NO_ERROR', false],
    ['no fault', false],
    ['OK', false],
    ['TERRACOTTA', false],
    ['ready', false],
  ])('%s -> %s', (status, fault) => {
    expect(isFaultStatus(status)).toBe(fault);
  });
});
