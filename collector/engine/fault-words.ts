/**
 * The fault words: device status text that reports a fault, whatever the device. The default `status_states`
 * rule (FAULT_WORDS_MATCH in params.ts) classifies a sample whose status contains one as `fault`.
 */

const FAULT_WORDS = new Set(['ERR', 'ERROR', 'ERRORS', 'FAULT', 'FAULTS', 'ALARM', 'ALARMS']);
const NEGATIONS = new Set(['NO', 'NOT', 'NON']);

/**
 * True when device status text reports a fault: it contains one of the words ERR, ERROR, FAULT or ALARM
 * (case-insensitive, plural allowed, words split on anything but letters, so `ERR05` and `ALARM_TEMP` count)
 * not directly preceded by NO/NOT/NON (`NO_ERROR`, `no fault` are not faults).
 */
export function isFaultStatus(status: string): boolean {
  const words = status.toUpperCase().split(/[^A-Z]+/).filter((w) => w !== '');
  return words.some((w, i) => FAULT_WORDS.has(w) && !(i > 0 && NEGATIONS.has(words[i - 1]!)));
}
