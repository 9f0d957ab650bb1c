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

const round2 = (v) => Math.round(v * 100) / 100;
