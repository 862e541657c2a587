import type { Command } from 'commander';
import { createLogger, type Logger, type LogLevel } from '@strata/runtime';

/**
 * What every long-running component command shares: Thanos' --log.level/--log.format flags, and
 * running until SIGINT or SIGTERM, then stopping cleanly.
 */
export function withLogFlags(cmd: Command): Command {
  return cmd.option('--log.level <level>', 'debug, info, warn or error', 'info').option('--log.format <format>', 'logfmt or json', 'logfmt');
}

export function loggerFromFlags(o: Record<string, unknown>): Logger {
  return createLogger({ level: String(o['log.level'] ?? 'info') as LogLevel, format: o['log.format'] === 'json' ? 'json' : 'logfmt' });
}

/** Waits for SIGINT or SIGTERM, then runs `stop`. */
export async function runUntilSignal(logger: Logger, stop: () => Promise<void>): Promise<void> {
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  logger.info('shutting down', { signal });
  await stop();
}

/** Collects a repeatable flag's values (also splitting comma-separated ones, as Thanos accepts). */
export function repeatable(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter((v) => v !== '')];
}

/** Every option of a command with its current value, for /api/v1/status/flags. */
export function flagValues(cmd: Command): Record<string, string> {
  const out: Record<string, string> = {};
  for (const opt of cmd.options) {
    const v = cmd.getOptionValue(opt.attributeName());
    if (opt.long !== undefined) out[opt.long.replace(/^--/, '')] = v === undefined ? '' : Array.isArray(v) ? v.join(',') : String(v);
  }
  return out;
}
