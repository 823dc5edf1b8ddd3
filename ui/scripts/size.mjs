// Prints the gzip size of the built JS and CSS (SPEC §10: under 150 KiB gzip). Writes nothing.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const dir = new URL('../../assets/assets/', import.meta.url).pathname;
const BUDGET = 150 * 1024;
let raw = 0;
let gz = 0;
const lines = [];
for (const f of readdirSync(dir).sort()) {
  if (!/\.(js|css)$/.test(f)) continue;
  const buf = readFileSync(join(dir, f));
  const g = gzipSync(buf, { level: 9 }).length;
  raw += statSync(join(dir, f)).size;
  gz += g;
  lines.push(`  ${f.padEnd(32)} ${String(buf.length).padStart(8)} B  ${String(g).padStart(7)} B gzip`);
}
console.log('bundle (JS+CSS):');
console.log(lines.join('\n'));
console.log(`total: ${raw} B raw, ${gz} B gzip (${(gz / 1024).toFixed(1)} KiB of ${BUDGET / 1024} KiB budget)`);
if (gz > BUDGET) {
  console.error('bundle exceeds the 150 KiB gzip budget');
  process.exit(1);
}
