/**
 * How every Modbus driver (TCP, RTU over TCP, RTU) splits and paces its requests: ModbusRequestOptions
 * (maxRegisters, maxGap, pauseMs, oneRequestPerField) turned into a read plan, and the read loop that sends the
 * plan's requests one after another, pausing `pauseMs` between two of them on the driver's clock.
 *
 * Options come from the profile (`profile.request`) and are overridden field by field by the instrument's own
 * options (the agent config's `modbus:` section), so a driver passes both and gets the profile's needs by default.
 */
import { sleep, type Clock } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import type { Readings } from '../../common/wire.ts';
import { decodeRequest, MAX_READ_REGISTERS, planReads, type ReadRequest } from '../../devices/modbus-codec.ts';
import type { ModbusProfile, ModbusRequestOptions } from '../../devices/profile.ts';
import type { RawFrame, ReadResult } from './driver.ts';

/** A driver's read plan: the requests of one read, in order, and the pause between two of them. */
export interface ModbusRequestPlan {
  readonly requests: readonly ReadRequest[];
  /** Pause between two requests of one read, ms (0: none). */
  readonly pauseMs: number;
}

/** The options in effect: the profile's, overridden by each later non-undefined value. */
export function mergeRequestOptions(...layers: ReadonlyArray<ModbusRequestOptions | undefined>): ModbusRequestOptions {
  const out: ModbusRequestOptions = {};
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.maxRegisters !== undefined) out.maxRegisters = layer.maxRegisters;
    if (layer.maxGap !== undefined) out.maxGap = layer.maxGap;
    if (layer.pauseMs !== undefined) out.pauseMs = layer.pauseMs;
    if (layer.oneRequestPerField !== undefined) out.oneRequestPerField = layer.oneRequestPerField;
  }
  return out;
}

/** Problems with request options, as messages (empty when valid). */
export function requestOptionProblems(options: ModbusRequestOptions): string[] {
  const problems: string[] = [];
  const { maxRegisters, maxGap, pauseMs } = options;
  if (maxRegisters !== undefined && !(Number.isInteger(maxRegisters) && maxRegisters >= 1 && maxRegisters <= MAX_READ_REGISTERS)) {
    problems.push(`maxRegisters must be an integer from 1 to ${MAX_READ_REGISTERS}, got ${maxRegisters}`);
  }
  if (maxGap !== undefined && !(Number.isInteger(maxGap) && maxGap >= 0)) problems.push(`maxGap must be an integer >= 0, got ${maxGap}`);
  if (pauseMs !== undefined && !(Number.isFinite(pauseMs) && pauseMs >= 0)) problems.push(`pauseMs must be a number >= 0, got ${pauseMs}`);
  return problems;
}

/**
 * The read plan for a profile: `profile.request` overridden by `overrides` (in order).
 * @throws JishiError JISHI_ERR_VALIDATION for out-of-range options; JISHI_ERR_DEVICE_DECODE when a field is wider
 *   than maxRegisters (from planReads).
 */
export function modbusRequestPlan(profile: ModbusProfile, ...overrides: ReadonlyArray<ModbusRequestOptions | undefined>): ModbusRequestPlan {
  const options = mergeRequestOptions(profile.request, ...overrides);
  const problems = requestOptionProblems(options);
  if (problems.length > 0) {
    throw new JishiError('JISHI_ERR_VALIDATION', `profile ${profile.id}: ${problems.join('; ')}`, { details: { problems } });
  }
  const requests = planReads(profile.fields, {
    ...(options.maxRegisters !== undefined ? { maxRegisters: options.maxRegisters } : {}),
    ...(options.maxGap !== undefined ? { maxGap: options.maxGap } : {}),
    ...(options.oneRequestPerField !== undefined ? { oneRequestPerField: options.oneRequestPerField } : {}),
  });
  return { requests, pauseMs: options.pauseMs ?? 0 };
}

/** `fn 4 0x000c+2`: how a request is named in raw frames (`jishi probe --raw`). */
export function describeRequest(req: ReadRequest): string {
  return `fn ${req.fn} 0x${req.address.toString(16).padStart(4, '0')}+${req.count}`;
}

/**
 * Runs one read: sends the plan's requests in order through `send` (which returns the register words or rejects
 * with a device JishiError), pausing `plan.pauseMs` on `clock` between two requests, and decodes the answers.
 * The first failure rejects the read (later requests are not sent).
 */
export async function readPlan(
  plan: ModbusRequestPlan,
  clock: Clock,
  send: (req: ReadRequest) => Promise<readonly number[]>,
  options: { raw?: boolean } = {},
): Promise<ReadResult> {
  const readings: Readings = {};
  const raw: RawFrame[] = [];
  let first = true;
  for (const req of plan.requests) {
    if (!first && plan.pauseMs > 0) await sleep(clock, plan.pauseMs);
    first = false;
    const registers = await send(req);
    if (options.raw) raw.push({ request: describeRequest(req), data: [...registers] });
    Object.assign(readings, decodeRequest(req, registers));
  }
  return options.raw ? { readings, raw } : { readings };
}
