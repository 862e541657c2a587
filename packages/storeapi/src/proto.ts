import { fileURLToPath } from 'node:url';

/**
 * Directory holding thanos/types.proto, thanos/rpc.proto, thanos/info.proto and the Metadata, Rules, Exemplars, Targets, Query and WriteableStore APIs' protos, for tools and
 * third-party clients (resolved from this module, so it works from src/ and dist/ alike).
 */
export const PROTO_DIR = fileURLToPath(new URL('../proto/', import.meta.url));
export const PROTO_FILES = ['thanos/types.proto', 'thanos/rpc.proto', 'thanos/info.proto', 'thanos/metadata.proto', 'thanos/rules.proto', 'thanos/exemplars.proto', 'thanos/targets.proto', 'thanos/prompb.proto', 'thanos/query.proto', 'thanos/writeable.proto'] as const;
