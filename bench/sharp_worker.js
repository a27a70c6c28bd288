// The sharp side of one case, driven by run.py over stdin/stdout like worker.py.
//
//   node bench/sharp_worker.js IMPL CASE_JSON      (IMPL: sharp | sharp-separate)
//
// Start-up (require, reading the input) happens before "ready"; each "run" line times only
// buffer in memory -> encoded buffers in memory. "sharp" builds one input pipeline and a
// clone() per output; "sharp-separate" builds a new sharp(buffer) per output. Either way the
// outputs run as Promise.all, as sharp's documentation shows for clone(). Threads:
// BENCH_THREADS=1 -> sharp.concurrency(1) (run.py also sets UV_THREADPOOL_SIZE=1, so the
// outputs of one run are encoded one at a time); otherwise sharp.concurrency(BENCH_THREADS).
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const readline = require("node:readline");
const sharp = require("sharp");

const [impl, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson);
const threads = Number(process.env.BENCH_THREADS || 0) || os.cpus().length;
sharp.concurrency(threads);
sharp.cache(false); // as worker.py: repeated runs of one input must not hit libvips' cache

const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");

function peakKb() {
  const match = /VmHWM:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) : 0;
}

function pipeline(base, out) {
  let image = base;
  if (out.width || out.height) {
    image = image.resize({
      width: out.width || undefined,
      height: out.height || undefined,
      fit: out.fit || "cover",
      withoutEnlargement: Boolean(out.without_enlargement),
    });
  }
  const options = out.quality ? { quality: out.quality } : {};
  return image.toFormat(out.format === "avif" ? "avif" : out.format, options).toBuffer({ resolveWithObject: true });
}

async function runOnce(data) {
  let jobs;
  if (impl === "sharp-separate") {
    jobs = spec.outputs.map((out) => pipeline(sharp(data), out));
  } else {
    const input = sharp(data);
    jobs = spec.outputs.map((out) => pipeline(input.clone(), out));
  }
  const results = await Promise.all(jobs);
  return results.map(({ data: buffer, info }) => [info.width, info.height, buffer.length]);
}

async function main() {
  const data = fs.readFileSync(spec.input_path);
  say({ ready: true, baseline_kb: peakKb(), threads: sharp.concurrency(), versions: sharp.versions });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() !== "run") break;
    const wall = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    try {
      const sizes = await runOnce(data);
      const used = process.cpuUsage(cpu);
      say({
        ms: Number(process.hrtime.bigint() - wall) / 1e6,
        cpu_ms: (used.user + used.system) / 1e3,
        bytes: sizes.reduce((sum, size) => sum + size[2], 0),
        sizes,
        peak_kb: peakKb(),
      });
    } catch (error) {
      say({ error: String(error.message || error).split("\n")[0] });
    }
  }
  lines.close();
}

main().catch((error) => {
  say({ error: String(error) });
  process.exitCode = 1;
});
