#!/usr/bin/env node
// Writes libs/contracts/src/generated/ from schemas/: `node tools/contracts/generate.mjs`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import core from './lib/contracts-core.cjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { written, problems } = core.generate(root);
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`${p.file}: ${p.message}\n`);
  process.stderr.write(`contracts: ${problems.length} problem(s) in schemas/, nothing generated\n`);
  process.exit(1);
}
process.stdout.write(
  written.length > 0
    ? `contracts: wrote ${written.join(', ')}\n`
    : 'contracts: generated files are up to date\n',
);
