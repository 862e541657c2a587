import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@strata/testing/process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { cgroupMemoryLimit, checkHeapAgainstMemoryLimit } from './memorylimit.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('strata-memlimit-');
});
afterEach(() => dir.cleanup());

const GIB = 2 ** 30;

describe('--enable-auto-gomemlimit', () => {
  it("reads the cgroup's memory limit, v2 and v1, none when unlimited", async () => {
    expect(await cgroupMemoryLimit(dir.path)).toBeUndefined();
    await mkdir(join(dir.path, 'memory'));
    await writeFile(join(dir.path, 'memory/memory.limit_in_bytes'), '9223372036854771712\n');
    expect(await cgroupMemoryLimit(dir.path)).toBeUndefined();
    await writeFile(join(dir.path, 'memory/memory.limit_in_bytes'), `${GIB}\n`);
    expect(await cgroupMemoryLimit(dir.path)).toBe(GIB);
    await writeFile(join(dir.path, 'memory.max'), 'max\n');
    expect(await cgroupMemoryLimit(dir.path)).toBeUndefined();
    await writeFile(join(dir.path, 'memory.max'), `${2 * GIB}\n`);
    expect(await cgroupMemoryLimit(dir.path)).toBe(2 * GIB);
  });

  it('warns, with the heap limit to start with, when the heap may grow past the ratio of the limit', async () => {
    await writeFile(join(dir.path, 'memory.max'), `${2 * GIB}\n`);
    const lines: string[] = [];
    const logger = createLogger({ write: (l) => lines.push(l) });
    expect(await checkHeapAgainstMemoryLimit({ ratio: 0.9, logger, cgroupRoot: dir.path, heapLimitBytes: 4 * GIB })).toBe(Math.floor(2 * GIB * 0.9));
    expect(lines.join('')).toMatch(/level=warn .*NODE_OPTIONS=--max-old-space-size=1659 .*source=cgroup memory_mib=2048 ratio=0.9 limit_mib=1843 heap_limit_mib=4096/);
    lines.length = 0;
    await checkHeapAgainstMemoryLimit({ ratio: 0.9, logger, cgroupRoot: dir.path, heapLimitBytes: GIB });
    expect(lines.join('')).toMatch(/level=info msg="memory limit" source=cgroup/);
    await expect(checkHeapAgainstMemoryLimit({ ratio: 1.5, logger, cgroupRoot: dir.path })).rejects.toThrow('--auto-gomemlimit.ratio must be in (0, 1], not 1.5');
  });
});
