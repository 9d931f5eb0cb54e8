/**
 * Simulated Modbus TCP gateways for the benchmarks, in a process of their own so that they do not load the
 * process being measured: `node --import tsx bench/sim-process.ts --gateways G --units U`.
 * Each gateway serves units 1..U, each an Eastron SDM120 meter following a demo power trace. Prints one JSON
 * line `{"ports":[...]}` once every gateway listens, then runs until SIGTERM / SIGINT.
 */
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { startModbusTcpSimulator, type ModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES } from '../devices/traces.ts';

function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

const gateways = intArg('--gateways', 1);
const units = intArg('--units', 50);
if (units > 247) throw new Error('--units: a Modbus gateway has at most 247 unit ids');

const traces = Object.values(DEMO_TRACES);
const now = Date.now();
const sims: ModbusTcpSimulator[] = [];
for (let g = 0; g < gateways; g++) {
  sims.push(
    await startModbusTcpSimulator({
      port: 0,
      devices: Array.from({ length: units }, (_, u) => ({
        unit: u + 1,
        profile: sdm120,
        trace: createTrace(traces[(g * units + u) % traces.length]!, { seed: g * 1000 + u + 1, epochMs: now, phaseS: (u * 17) % 120 }),
      })),
    }),
  );
}
process.stdout.write(`${JSON.stringify({ ports: sims.map((s) => s.port) })}\n`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await Promise.all(sims.map((s) => s.close()));
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
