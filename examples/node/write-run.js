#!/usr/bin/env node
// Minimal perfslo run writer for Node.js projects: no dependencies, Node >= 18.
//
// It times two small pieces of real work and writes one run file that follows
// perfslo's contract, perfslo_tui/runs/schema/run.schema.json:
//
//   <artifacts>/perf-<short-commit>-<epoch-ms>.json
//   { "schema_version": 1,
//     "metadata": { "timestamp", "timestamp_unix", "commit", "branch", "source", ... },
//     "slos": { "<slo name>": { "unit": "ms", "samples": [per-call ms, ...], "inner_loops": N } } }
//
// Usage:  node examples/node/write-run.js [--slo NAME]
//   PERFSLO_ARTIFACTS  where to write (perfslo sets it when it runs your bench command)
//   PERF_ITERATIONS    samples per SLO (default 30)
// As a bench command:  bench_command = "node examples/node/write-run.js --slo {slo}"
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

// The work to measure. Replace with your own functions (e.g. your transpiler).
const source = 'var x = 1;\n'.repeat(200);
const record = { name: 'perfslo', tags: ['a', 'b', 'c'], nested: { n: 42, list: [1, 2, 3, 4, 5] } };
const BENCHMARKS = {
  'node-regex-rewrite': () => source.replace(/\bvar\b/g, 'local'),
  'node-json-roundtrip': () => JSON.parse(JSON.stringify(record)),
};

const MIN_SAMPLE_NS = 200000n; // each sample lasts >= 0.2 ms, so the timer's cost is negligible

function calibrate(fn) {
  let loops = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < loops; i++) fn();
    if (process.hrtime.bigint() - start >= MIN_SAMPLE_NS || loops >= 1 << 24) return loops;
    loops *= 2;
  }
}

function bench(fn, iterations) {
  for (let i = 0; i < 10; i++) fn(); // warm-up: let the JIT compile it
  const loops = calibrate(fn);
  const samples = [];
  for (let s = 0; s < iterations; s++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < loops; i++) fn();
    const elapsedNs = process.hrtime.bigint() - start;
    samples.push(Number(elapsedNs) / 1e6 / loops); // per-call milliseconds
  }
  return { samples, loops };
}

function git(args, fallback) {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || fallback;
  } catch {
    return fallback;
  }
}

// Write atomically and never over another run: a hidden temp file in the same
// folder, then a hard link to the final name (fails if it exists: next ms).
function writeRun(dir, document) {
  fs.mkdirSync(dir, { recursive: true });
  const commit = document.metadata.commit;
  const short = /^[0-9a-f]{8,64}$/.test(commit) ? commit.slice(0, 7) : commit.replace(/[^0-9A-Za-z._]/g, '_').slice(0, 12) || 'unknown';
  const tmp = path.join(dir, `.perf-node-${process.pid}-${Date.now()}.tmp`);
  let ms = document.metadata.timestamp_unix;
  for (let attempt = 0; attempt < 1000; attempt++, ms++) {
    document.metadata.timestamp_unix = ms;
    document.metadata.timestamp = new Date(ms).toISOString();
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      fs.writeSync(fd, JSON.stringify(document, null, 2));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const target = path.join(dir, `perf-${short}-${ms}.json`);
    try {
      fs.linkSync(tmp, target);
      fs.unlinkSync(tmp);
      return target;
    } catch (err) {
      fs.unlinkSync(tmp);
      if (err.code !== 'EEXIST') throw err;
    }
  }
  throw new Error(`${dir}: no free run file name`);
}

function main() {
  const args = process.argv.slice(2);
  let only = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--slo' && i + 1 < args.length) only = args[++i];
    else { console.error(`usage: write-run.js [--slo NAME] (unknown argument ${args[i]})`); return 2; }
  }
  if (only !== null && !(only in BENCHMARKS)) {
    console.error(`write-run.js: no benchmark named ${only} (known: ${Object.keys(BENCHMARKS).join(', ')})`);
    return 2;
  }
  const iterations = parseInt(process.env.PERF_ITERATIONS || '30', 10);
  if (!(iterations >= 1)) {
    console.error(`write-run.js: PERF_ITERATIONS must be a positive integer, got ${process.env.PERF_ITERATIONS}`);
    return 2;
  }
  const slos = {};
  for (const [name, fn] of Object.entries(BENCHMARKS)) {
    if (only !== null && name !== only) continue;
    const { samples, loops } = bench(fn, iterations);
    slos[name] = { unit: 'ms', samples, inner_loops: loops };
  }
  const now = Date.now();
  const document = {
    schema_version: 1,
    metadata: {
      timestamp: new Date(now).toISOString(),
      timestamp_unix: now,
      commit: process.env.PERFSLO_COMMIT || process.env.GITHUB_SHA || git(['rev-parse', 'HEAD'], 'unknown'),
      branch: process.env.PERFSLO_BRANCH || git(['rev-parse', '--abbrev-ref', 'HEAD'], 'unknown'),
      dirty: git(['status', '--porcelain', '--untracked-files=no'], '') !== '',
      runner: process.env.RUNNER_NAME || require('os').hostname(),
      tool: `write-run.js (node ${process.version})`,
      source: 'node',
    },
    slos,
  };
  const file = writeRun(process.env.PERFSLO_ARTIFACTS || 'artifacts', document);
  console.log(`Run written: ${file}`);
  return 0;
}

process.exitCode = main();
