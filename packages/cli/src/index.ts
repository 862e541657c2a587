export { registerCommands } from './commands/index.js';
export { DemoModel, DEMO_FAMILIES, type DemoSample } from './demo/model.js';
export { writeOpenMetrics, textExposition } from './demo/exposition.js';
export { startDemoExporter, type DemoExporter } from './demo/exporter.js';
export { writeDemoBlocks, type DemoBlocksOptions } from './demo/blocks.js';
export { startPrometheusProcess, type PrometheusProcess, type PrometheusProcessOptions } from './quickstart/prometheus.js';
