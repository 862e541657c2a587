/**
 * `pnpm bench <name> [args…]` runs bench/<name>.bench.ts. Every benchmark measures a reference in the
 * same run (usually Prometheus itself) and reports a ratio against it, so results compare across machines.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (name === undefined || !names.includes(name)) {
  process.stderr.write(`usage: pnpm bench <name> [args…]\nbenchmarks: ${names.join(', ') || '(none)'}\n`);
  process.exit(name === undefined ? 0 : 2);
}
const mod = (await import(`./${name}.bench.ts`)) as { main(args: string[]): Promise<void> };
await mod.main(args);
