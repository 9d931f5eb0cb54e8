/**
 * The driver table: transport kind -> driver factory. Config validation asks this table which
 * transports this version can drive, so the two never disagree.
 */
import { JishiError } from '../../common/errors.ts';
import type { TransportKind } from '../../common/transport-url.ts';
import type { InstrumentConfig } from '../config.ts';
import type { DriverContext, PolledDriver } from './driver.ts';
import { ModbusRtuDriver } from './modbus-rtu.ts';
import { ModbusTcpDriver } from './modbus-tcp.ts';
import { MqttDriver } from './mqtt.ts';
import { SerialDriver } from './serial.ts';

export type { DriverContext, PolledDriver } from './driver.ts';

type DriverFactory = (instrument: InstrumentConfig, ctx: DriverContext) => PolledDriver;

const FACTORIES: Partial<Record<TransportKind, DriverFactory>> = {
  'modbus-tcp': (instrument, ctx) => {
    const { transport, profile } = instrument;
    if (transport.kind !== 'modbus-tcp' || profile.kind !== 'modbus') throw mismatch(instrument);
    return new ModbusTcpDriver({ profile, transport, ...(instrument.modbus ? { request: instrument.modbus } : {}) }, ctx);
  },
  'modbus-rtu': (instrument, ctx) => {
    const { transport, profile } = instrument;
    if (transport.kind !== 'modbus-rtu' || profile.kind !== 'modbus') throw mismatch(instrument);
    return new ModbusRtuDriver({ profile, transport, ...(instrument.modbus ? { request: instrument.modbus } : {}) }, ctx);
  },
  mqtt: (instrument, ctx) => {
    const { transport, profile } = instrument;
    if (transport.kind !== 'mqtt' || profile.kind !== 'mqtt') throw mismatch(instrument);
    return new MqttDriver({ profile, transport }, ctx);
  },
  serial: (instrument, ctx) => {
    const { transport, profile } = instrument;
    if (transport.kind !== 'serial' || profile.kind !== 'serial') throw mismatch(instrument);
    return new SerialDriver({ profile, transport }, ctx);
  },
};

function mismatch(instrument: InstrumentConfig): Error {
  return new JishiError(
    'JISHI_ERR_INTERNAL',
    `instrument ${instrument.id}: profile ${instrument.profile.id} (${instrument.profile.kind}) cannot run on a ${instrument.transport.kind} transport`,
  );
}

/** Transport kinds that have a driver in this version, e.g. `['modbus-tcp']`. */
export const SUPPORTED_TRANSPORTS: readonly TransportKind[] = Object.freeze(Object.keys(FACTORIES) as TransportKind[]);

/** True when this version has a driver for the transport kind. */
export function hasDriver(kind: TransportKind): boolean {
  return FACTORIES[kind] !== undefined;
}

/**
 * Creates the driver for a validated instrument. No I/O happens until the driver is opened or read.
 * @throws JishiError JISHI_ERR_INTERNAL when the transport kind has no driver (config validation prevents that).
 */
export function createDriver(instrument: InstrumentConfig, ctx: DriverContext): PolledDriver {
  const factory = FACTORIES[instrument.transport.kind];
  if (!factory) {
    throw new JishiError(
      'JISHI_ERR_INTERNAL',
      `${instrument.transport.kind} transport is not available in this version; supported: ${SUPPORTED_TRANSPORTS.join(', ')}`,
    );
  }
  return factory(instrument, ctx);
}
