#!/usr/bin/env node
// Minimal perfslo run writer for Node.js projects: no dependencies, Node >= 18.
//
// It times three small pieces of real work and writes one run file that follows
// perfslo's contract, perfslo_tui/runs/schema/run.schema.json:
//
//   <artifacts>/perf-<short-commit>-<epoch-ms>.json
//   { "schema_version": 1,
//     "metadata": { "timestamp", "timestamp_unix", "commit", "branch", "source", "fingerprint", ... },
//     "slos": { "<slo name>": { "unit": "ms", "samples": [per-call ms, ...], "inner_loops": N } } }
//
// Usage:  node examples/node/write-run.js [--slo NAME]
//   PERFSLO_ARTIFACTS  where to write (perfslo sets it when it runs your bench command)
//   PERF_ITERATIONS    samples per SLO (default 30)
// As a bench command:  bench_command = "node examples/node/write-run.js --slo {slo}"
// As a library:        const { main } = require('./write-run.js');
//                      process.exitCode = main({ 'my-slo': () => work(), 'other': { setup, run } });
//
// Each benchmark warms up until its speed stops improving (at least 0.5 s, at most
// 3 s: V8 compiles in tiers), then takes PERF_ITERATIONS samples in order; perfslo
// finds any warm-up left in them and leaves it out of the value. The run records
// a fingerprint (Node version, CPU, OS, this harness's protocol): perfslo does not
// compare runs measured differently.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

// The work to measure. Replace with your own functions (e.g. your transpiler).
// A benchmark is a function, or { run, setup } when each call needs a step that
// must not be timed: `setup` runs before every call of `run`, outside the timed
// region (the common case: clear a cache, so every call does the real work).
const source = 'var x = 1;\n'.repeat(200);
const record = { name: 'perfslo', tags: ['a', 'b', 'c'], nested: { n: 42, list: [1, 2, 3, 4, 5] } };
const templateCache = new Map();
function renderRows(rows) {
  // Memoised per row: without clearing the cache, every call after the first is a lookup.
  return rows.map((row) => {
    let html = templateCache.get(row.id);
    if (html === undefined) {
      html = `<tr><td>${row.id}</td><td>${row.name.toUpperCase()}</td><td>${row.score.toFixed(2)}</td></tr>`;
      templateCache.set(row.id, html);
    }
    return html;
  }).join('\n');
}
const rows = Array.from({ length: 200 }, (_, i) => ({ id: i, name: `row-${i}`, score: i / 7 }));
const BENCHMARKS = {
  'node-regex-rewrite': () => source.replace(/\bvar\b/g, 'local'),
  'node-json-roundtrip': () => JSON.parse(JSON.stringify(record)),
  'node-render-rows': { setup: () => templateCache.clear(), run: () => renderRows(rows) },
};

const EXAMPLE_VERSION = '2';
// How samples are taken (bump when that changes what they mean): warm-up until
// steady, calibrated inner loop, per-call setup outside the timed region.
const PROTOCOL = 'node-write-run/2';
const MIN_SAMPLE_NS = 200000n; // each sample lasts >= 0.2 ms, so the timer's cost is negligible
// Warm up until steady (as perfslo's Python harness does): time batches for at
// least WARMUP_MIN_NS, then until the median of the last WARMUP_WINDOW batches is
// no faster (by more than 2 %) than the median of the window that ended halfway
// through the warm-up so far; at most WARMUP_MAX_NS. A JIT compiles in tiers
// and leaves plateaus: comparing with the halfway point sees past them. A fixed
// count of 10 calls left the first samples of a 200-sample run 1.3-4x slower;
// on a small tokenizer V8 made a last step (-10 %) after 110-150 ms of calls,
// so the minimum is 500 ms.
const WARMUP_MIN_NS = 500000000n;
const WARMUP_MAX_NS = 3000000000n;
const WARMUP_WINDOW = 10;
const WARMUP_IMPROVEMENT = 0.02;

// Time `loops` calls of `run`; with a setup, only the calls themselves are timed.
function timeBatch(bench, loops) {
  if (!bench.setup) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < loops; i++) bench.run();
    return process.hrtime.bigint() - start;
  }
  let total = 0n;
  for (let i = 0; i < loops; i++) {
    bench.setup();
    const start = process.hrtime.bigint();
    bench.run();
    total += process.hrtime.bigint() - start;
  }
  return total;
}

function calibrate(bench) {
  let loops = 1;
  for (;;) {
    if (timeBatch(bench, loops) >= MIN_SAMPLE_NS || loops >= 1 << 24) return loops;
    loops *= 2;
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted[Math.floor(sorted.length / 2)];
}

// Returns the number of warm-up calls made.
function warmUntilSteady(bench, loops) {
  const began = process.hrtime.bigint();
  const ends = [];
  const times = [];
  for (;;) {
    times.push(timeBatch(bench, loops));
    const elapsed = process.hrtime.bigint() - began;
    ends.push(elapsed);
    if (elapsed >= WARMUP_MAX_NS) break;
    if (elapsed < WARMUP_MIN_NS || times.length < 2 * WARMUP_WINDOW) continue;
    let half = ends.findIndex((end) => end >= elapsed / 2n);
    half = Math.min(Math.max(half, WARMUP_WINDOW), times.length - WARMUP_WINDOW);
    const last = Number(median(times.slice(-WARMUP_WINDOW)));
    const before = Number(median(times.slice(half - WARMUP_WINDOW, half)));
    if (last >= before * (1 - WARMUP_IMPROVEMENT)) break;
  }
  return times.length * loops;
}

function bench(spec, iterations) {
  const b = typeof spec === 'function' ? { run: spec } : spec;
  for (let i = 0; i < 3; i++) { if (b.setup) b.setup(); b.run(); }
  const warmup = warmUntilSteady(b, calibrate(b));
  const loops = calibrate(b); // again: the first calibration saw the slow start
  const samples = [];
  for (let s = 0; s < iterations; s++) {
    samples.push(Number(timeBatch(b, loops)) / 1e6 / loops); // per-call milliseconds
  }
  return { samples, loops, warmup };
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

function main(benchmarks = BENCHMARKS) {
  const args = process.argv.slice(2);
  let only = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--slo' && i + 1 < args.length) only = args[++i];
    else { console.error(`usage: write-run.js [--slo NAME] (unknown argument ${args[i]})`); return 2; }
  }
  if (only !== null && !(only in benchmarks)) {
    console.error(`write-run.js: no benchmark named ${only} (known: ${Object.keys(benchmarks).join(', ')})`);
    return 2;
  }
  const iterations = parseInt(process.env.PERF_ITERATIONS || '30', 10);
  if (!(iterations >= 1)) {
    console.error(`write-run.js: PERF_ITERATIONS must be a positive integer, got ${process.env.PERF_ITERATIONS}`);
    return 2;
  }
  const slos = {};
  for (const [name, fn] of Object.entries(benchmarks)) {
    if (only !== null && name !== only) continue;
    const { samples, loops, warmup } = bench(fn, iterations);
    slos[name] = { unit: 'ms', samples, inner_loops: loops };
    console.log(`${name}: ${iterations} samples of ${loops} call(s) after ${warmup} warm-up calls`);
  }
  const now = Date.now();
  const os = require('os');
  const cpus = os.cpus();
  // How these samples were taken: perfslo refuses to compare runs whose
  // fingerprints differ in what matters (runtime line, CPU, protocol...).
  const fingerprint = {
    producer: 'write-run.js',
    producer_version: EXAMPLE_VERSION,
    protocol: PROTOCOL,
    runtime: 'node',
    runtime_version: process.versions.node,
    cpu_model: cpus.length ? cpus[0].model.trim().slice(0, 128) : 'unknown',
    cpu_count: cpus.length,
    os: `${os.type()} ${os.release()}`,
    reference: false,
  };
  if (process.env.PERF_ITERATIONS) fingerprint.perf_iterations = iterations;
  const document = {
    schema_version: 1,
    metadata: {
      timestamp: new Date(now).toISOString(),
      timestamp_unix: now,
      commit: process.env.PERFSLO_COMMIT || process.env.GITHUB_SHA || git(['rev-parse', 'HEAD'], 'unknown'),
      branch: process.env.PERFSLO_BRANCH || git(['rev-parse', '--abbrev-ref', 'HEAD'], 'unknown'),
      dirty: git(['status', '--porcelain', '--untracked-files=no'], '') !== '',
      runner: process.env.RUNNER_NAME || os.hostname(),
      tool: `write-run.js ${EXAMPLE_VERSION} (node ${process.version})`,
      source: 'node',
      fingerprint,
    },
    slos,
  };
  const file = writeRun(process.env.PERFSLO_ARTIFACTS || 'artifacts', document);
  console.log(`Run written: ${file}`);
  return 0;
}

// Run as a script, or `require` it and call main({ name: fn or { setup, run } })
// from your own file to use this harness with your benchmarks.
if (require.main === module) process.exitCode = main();
else module.exports = { main, bench };
