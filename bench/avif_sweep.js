// AVIF encode only, sharp side of run.py's effort sweep: node bench/avif_sweep.js RAW_JSON
// RAW_JSON: {"path": raw RGB file, "width", "height", "quality", "efforts": [...], "repeats"}.
// Prints one JSON line per setting: {"effort", "subsampling", "ms" (median), "bytes"}.
"use strict";

const fs = require("node:fs");
const sharp = require("sharp");

sharp.concurrency(1);
sharp.cache(false);

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const raw = { width: spec.width, height: spec.height, channels: 3 };
  const pixels = fs.readFileSync(spec.path);
  const settings = spec.efforts.map((effort) => [effort, "4:4:4"]).concat([[4, "4:2:0"]]);
  for (const [effort, subsampling] of settings) {
    const times = [];
    let bytes = 0;
    for (let i = 0; i <= spec.repeats; i++) {
      const start = process.hrtime.bigint();
      const out = await sharp(pixels, { raw })
        .avif({ quality: spec.quality, effort, chromaSubsampling: subsampling })
        .toBuffer();
      if (i > 0) times.push(Number(process.hrtime.bigint() - start) / 1e6);
      bytes = out.length;
    }
    times.sort((a, b) => a - b);
    const ms = times[Math.floor(times.length / 2)];
    process.stdout.write(JSON.stringify({ effort, subsampling, ms, bytes }) + "\n");
  }
}

main();
