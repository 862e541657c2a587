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
