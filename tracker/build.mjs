// Minifies the tracker and the overlay with terser and prints their sizes.
// Usage: node build.mjs   (after npm ci). The readable sources run as-is; the
// server may serve either the source or dist/*.min.js.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';

const here = new URL('.', import.meta.url);
const files = [
  ['heatstore.js', 'dist/heatstore.min.js', 6 * 1024],
  ['overlay.js', 'dist/overlay.min.js', null],
];
await mkdir(new URL('dist/', here), { recursive: true });
let over = false;
for (const [src, out, budget] of files) {
  const code = await readFile(new URL(src, here), 'utf8');
  const res = await minify(code, {
    ecma: 2017,
    compress: { passes: 2 },
    mangle: true,
    format: { comments: /^!/ },
  });
  await writeFile(new URL(out, here), res.code + '\n');
  const gz = gzipSync(res.code, { level: 9 }).length;
  const line = `${src}: raw ${code.length} B, minified ${res.code.length} B, min+gzip ${gz} B` +
    (budget ? ` (budget ${budget} B${gz > budget ? ', OVER' : ''})` : '');
  console.log(line);
  if (budget && gz > budget) over = true;
}
if (over) process.exit(1);
