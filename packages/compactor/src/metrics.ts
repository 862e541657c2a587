import { DELETION_MARK_FILENAME, NO_COMPACT_MARK_FILENAME, type NoCompactReason } from '@strata/block';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { RES_1H, RES_5M } from './downsample.js';

/** The no-compact reasons of the blocks the compactor skips itself (compactor.ts #skip). */
const SKIP_REASONS: readonly NoCompactReason[] = ['overlapping-blocks', 'downsample-vertical-compaction', 'corrupt-block'];

/** The compactor's metrics, named after Thanos' `thanos_compact_*` with the `strata_` prefix. */
export class CompactorMetrics {
  readonly iterations: Counter;
  readonly iterationFailures: Counter;
  readonly iterationDuration: Histogram;
  readonly groupCompactions: Counter;
  readonly groupCompactionFailures: Counter;
  readonly groupRunsStarted: Counter;
  readonly groupRunsCompleted: Counter;
  readonly verticalCompactions: Counter;
  readonly groupsSkipped: Counter<'reason'>;
  readonly blocksMarked: Counter<'marker' | 'reason'>;
  readonly garbageCollected: Counter;
  readonly blocksCleaned: Counter;
  readonly partialUploadsDeleted: Counter;
  readonly downsamples: Counter<'resolution'>;
  readonly downsampleFailures: Counter<'resolution'>;
  readonly todoCompactions: Gauge;
  readonly todoCompactionBlocks: Gauge;
  readonly todoDownsampleBlocks: Gauge;
  readonly todoDeletions: Gauge;
  readonly samplesCompacted: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) => new Counter<L>({ name, help, labelNames, registers });
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
    this.iterations = counter('strata_compact_iterations_total', 'Compactor iterations run to the end.');
    this.iterationFailures = counter('strata_compact_iteration_failures_total', 'Compactor iterations that ended with an error (retried at the next interval).');
    this.iterationDuration = new Histogram({
      name: 'strata_compact_iteration_duration_seconds',
      help: 'Duration of compactor iterations.',
      buckets: [1, 10, 60, 300, 900, 1800, 3600, 7200],
      registers,
    });
    this.groupCompactions = counter('strata_compact_group_compactions_total', 'Compactions that produced (or emptied) a block.');
    this.groupCompactionFailures = counter('strata_compact_group_compactions_failures_total', 'Group compactions that failed.');
    this.groupRunsStarted = counter('strata_compact_group_compaction_runs_started_total', 'Group compaction runs started.');
    this.groupRunsCompleted = counter('strata_compact_group_compaction_runs_completed_total', 'Group compaction runs completed.');
    this.verticalCompactions = counter('strata_compact_group_vertical_compactions_total', 'Compactions that merged overlapping blocks.');
    this.groupsSkipped = counter('strata_compact_group_skipped_total', 'Plans skipped instead of halting: blocks overlapping without vertical compaction, corrupt blocks.', ['reason']);
    this.blocksMarked = counter('strata_compact_blocks_marked_total', 'Blocks marked by the compactor.', ['marker', 'reason']);
    this.garbageCollected = counter('strata_compact_garbage_collected_blocks_total', 'Blocks marked for deletion because a compacted block already holds their data.');
    this.blocksCleaned = counter('strata_compact_blocks_cleaned_total', 'Blocks deleted from the bucket.');
    this.partialUploadsDeleted = counter('strata_compact_aborted_partial_uploads_deletion_attempts_total', 'Aborted partial uploads deleted.');
    this.downsamples = counter('strata_compact_downsample_total', 'Blocks downsampled.', ['resolution']);
    this.downsampleFailures = counter('strata_compact_downsample_failures_total', 'Downsamplings that failed.', ['resolution']);
    this.todoCompactions = gauge('strata_compact_todo_compactions', 'Compactions the planner has left to do, as of the last sync.');
    this.todoCompactionBlocks = gauge('strata_compact_todo_compaction_blocks', 'Blocks that are planned to be compacted, as of the last sync.');
    this.todoDownsampleBlocks = gauge('strata_compact_todo_downsample_blocks', 'Blocks due for downsampling, as of the last sync.');
    this.todoDeletions = gauge('strata_compact_todo_deletions', 'Blocks marked for deletion and waiting for the delete delay.');
    this.samplesCompacted = counter('strata_compact_samples_total', 'Samples read by compactions.');

    // Zero series for every label value the compactor uses, as Thanos does, so that alerts on increase() see a change from 0.
    for (const reason of SKIP_REASONS) {
      this.groupsSkipped.inc({ reason }, 0);
      this.blocksMarked.inc({ marker: NO_COMPACT_MARK_FILENAME, reason }, 0);
    }
    this.blocksMarked.inc({ marker: DELETION_MARK_FILENAME, reason: '' }, 0);
    for (const resolution of [String(RES_5M), String(RES_1H)]) {
      this.downsamples.inc({ resolution }, 0);
      this.downsampleFailures.inc({ resolution }, 0);
    }
  }
}
