#!/usr/bin/env node
// `npm run bench` (after the build): see tests/bench/bench.mjs and docs/benchmarks.md.
import './bench.mjs';
