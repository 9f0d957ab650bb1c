// Where the CPU went during a measured window: per process (from /proc/<pid>/stat), our
// PostgreSQL backends, and the whole machine (from /proc/stat). Linux only; elsewhere it reports
// nothing rather than failing the benchmark.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // getconf missing: 100 is the Linux default.
}

/** CPU seconds (user + system) a process has used, or null when it is gone. */
export function processCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields after the closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}

function machineTicks() {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const idle = cpu[3] + (cpu[4] ?? 0);
    const total = cpu.reduce((a, b) => a + b, 0);
    return { idle, total };
  } catch {
    return null;
  }
}

/**
 * Measures a window: start() then stop() gives CPU seconds and share of one core per named
 * process, plus the machine's busy share (all engineers' work included).
 * `sources` maps a name to a function returning the pids to count (read at start and stop).
 */
export class CpuMeter {
  constructor(sources) {
    this.sources = sources;
  }

  async snapshot() {
    const perSource = {};
    for (const [name, pids] of Object.entries(this.sources)) {
      const map = new Map();
      for (const pid of await pids()) {
        const cpu = processCpuSeconds(pid);
        if (cpu !== null) map.set(pid, cpu);
      }
      perSource[name] = map;
    }
    return { at: performance.now(), perSource, machine: machineTicks() };
  }

  async start() {
    this.first = await this.snapshot();
  }

  async stop() {
    const last = await this.snapshot();
    const first = this.first;
    const seconds = (last.at - first.at) / 1000;
    const processes = {};
    for (const [name, map] of Object.entries(last.perSource)) {
      let used = 0;
      for (const [pid, cpu] of map) used += cpu - (first.perSource[name]?.get(pid) ?? 0);
      processes[name] = { cpuSeconds: round2(used), coreShare: round2(used / seconds) };
    }
    let machineBusy = null;
    if (first.machine && last.machine) {
      const total = last.machine.total - first.machine.total;
      const idle = last.machine.idle - first.machine.idle;
      machineBusy = total > 0 ? round2((total - idle) / total) : null;
    }
    return { windowSeconds: round2(seconds), processes, machineBusy };
  }
}

/** "collector 0.95 core, kafka 0.40 core, ..." for the progress output. */
export function describeCpu(cpu) {
  if (!cpu) return '';
  const parts = Object.entries(cpu.processes)
    .filter(([, v]) => v.cpuSeconds > 0)
    .map(([name, v]) => `${name} ${v.coreShare.toFixed(2)}`);
  const machine =
    cpu.machineBusy === null
      ? ''
      : `; machine busy ${(cpu.machineBusy * 100).toFixed(0)}% of all cores`;
  return `CPU (cores): ${parts.join(', ')}${machine}`;
}

/**
 * What a stage's measured CPU per event allows on this machine: the most events per second its
 * cores could give if every process's work overlapped perfectly and no core ever idled. A figure
 * below a target says the target needs less work per event; overlapping better cannot reach it.
 * `cpu` is a CpuMeter window over `events` events.
 */
export function cpuCeiling(cpu, events, cores) {
  const usPerEvent = {};
  let total = 0;
  for (const [name, p] of Object.entries(cpu?.processes ?? {})) {
    const us = (p.cpuSeconds * 1e6) / events;
    usPerEvent[name] = round1(us);
    total += us;
  }
  return {
    usPerEvent,
    totalUsPerEvent: round1(total),
    cores,
    ceilingPerSecond: total > 0 ? Math.round((cores * 1e6) / total) : null,
  };
}

/**
 * "bench 70.1 + postgres 48.2 = 118.3 µs of CPU per event: at most 16,907 ev/s on 2 cores
 * (the target, 50,000 ev/s, allows 40 µs)".
 */
export function describeCeiling(ceiling, targetPerSecond) {
  if (ceiling.ceilingPerSecond === null) return 'no CPU measured';
  const parts = Object.entries(ceiling.usPerEvent)
    .filter(([, us]) => us > 0)
    .map(([name, us]) => `${name} ${us.toFixed(1)}`);
  const target =
    targetPerSecond === undefined
      ? ''
      : ` (the target, ${targetPerSecond.toLocaleString('en-US')} ev/s, allows ${round1((ceiling.cores * 1e6) / targetPerSecond)} µs)`;
  return `${parts.join(' + ')} = ${ceiling.totalUsPerEvent.toFixed(1)} µs of CPU per event: at most ${ceiling.ceilingPerSecond.toLocaleString('en-US')} ev/s on ${ceiling.cores} cores${target}`;
}

const round1 = (v) => Math.round(v * 10) / 10;
const round2 = (v) => Math.round(v * 100) / 100;
