/** What machine the benchmark ran on: CPU model and cores, RAM, Node and influxd versions. */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { influxdVersion } from './influx.ts';

export interface MachineInfo {
  cpu: string;
  cores: number;
  ramGiB: number;
  node: string;
  influxd: string;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1]!.trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  let kernel = 'unknown';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // not Linux
  }
  return {
    cpu,
    cores: cpus().length,
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    influxd: influxdVersion(),
    kernel,
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}, ${m.influxd}`;
}
