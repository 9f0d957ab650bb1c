#!/usr/bin/env node
// `npm run bench` (after the build): see tests/bench/bench.mjs and docs/benchmarks.md.
// The profile rebuild stage (stages/profile-rebuild.mjs) runs first, on its own database;
// `--only=profile-rebuild` runs only it.
import { cleanupAll } from './lib/services.mjs';
import {
  onlyProfileRebuild,
  profileRebuildRequested,
  runProfileRebuild,
} from './stages/profile-rebuild.mjs';

if (profileRebuildRequested(process.argv)) {
  try {
    await runProfileRebuild(process.argv);
  } catch (error) {
    process.stderr.write(`\nbenchmark failed: ${error?.stack ?? error}\n`);
    await cleanupAll();
    process.exit(1);
  }
}
if (onlyProfileRebuild(process.argv)) {
  await cleanupAll();
  process.exit(0);
}
await import('./bench.mjs');
