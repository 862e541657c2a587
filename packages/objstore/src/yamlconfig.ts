import { parse as parseYaml } from 'yaml';

/**
 * The pieces every Thanos-format YAML configuration is read with (objstore, caching bucket, index
 * cache, HTTP client): strict like Thanos' readers, an unknown field is an error, and every error
 * starts with `what` (the flag or file the configuration came from).
 */
export function parseYamlConfig(text: string, what: string): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    throw new Error(`${what}: invalid YAML: ${(e as Error).message}`);
  }
}

/** `v` as a mapping whose fields are all in `keys` (any field without `keys`). */
export function configMapping(v: unknown, what: string, keys?: ReadonlySet<string>): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what}: expected a mapping`);
  const m = v as Record<string, unknown>;
  if (keys !== undefined) for (const k of Object.keys(m)) if (!keys.has(k)) throw new Error(`${what}: unknown or unsupported field ${JSON.stringify(k)}`);
  return m;
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, KIB: 1024, MB: 1024 ** 2, MIB: 1024 ** 2, GB: 1024 ** 3, GIB: 1024 ** 3, TB: 1024 ** 4, TIB: 1024 ** 4 };

/** A size like `250MB`, `1GiB` or `16000` (base 1024, as Thanos reads sizes in flags and configs) in bytes. */
export function parseBytes(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(s.trim());
  const unit = UNITS[(m?.[2] || 'B').toUpperCase()];
  if (m === null || unit === undefined) throw new Error(`${what}: invalid size ${JSON.stringify(s)}: want e.g. 250MB or 1GiB`);
  return Math.floor(Number(m[1]) * unit);
}
