#!/usr/bin/env node
// Fails (exit 1) when a schema is invalid or misnamed, a version cannot read its predecessor or
// its own committed history, or the generated code drifted: `node tools/contracts/check.mjs`.
// `--no-history` skips the comparison with git history.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import core from './lib/contracts-core.cjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const history = !process.argv.includes('--no-history');
const problems = core.checkContracts(root, { history });
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`${p.file}: ${p.message}\n`);
  process.stderr.write(`contracts: ${problems.length} problem(s)\n`);
  process.exit(1);
}
process.stdout.write('contracts: schemas valid, versions compatible, generated code up to date\n');
