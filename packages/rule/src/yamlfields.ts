import { parseDuration } from '@strata/objstore';

// Typed optional fields of a parsed YAML mapping: null and absent are alike; `what` names the field in errors.

export function optString(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'object') throw new Error(`${what}: expected a string`);
  return String(v);
}

export function optBool(v: unknown, what: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new Error(`${what}: expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function optPositiveInt(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new Error(`${what}: expected a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

export function optDuration(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  try {
    return parseDuration(String(v));
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}
