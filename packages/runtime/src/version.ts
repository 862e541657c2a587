import { createRequire } from 'node:module';

/** Strata's version: the runtime package's, which every component and the CLI are released with. */
export const STRATA_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** What `strata --version` prints, in the shape of `prometheus --version` and `thanos --version`. */
export function versionText(): string {
  return `strata, version ${STRATA_VERSION}\n  node version: ${process.version}\n  platform: ${process.platform}/${process.arch}`;
}
