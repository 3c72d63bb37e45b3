// Per-slice metrics: phase and conditions (shared names with the other kinds, `kind` label),
// canary weight of the child shift, and rollbacks.
import { MigrationSlicePhaseValues, type MigrationSliceStatus } from '../../api/migrationslice.ts';
import { counter, gauge, registry as defaultRegistry, type Registry } from '../../runtime/metrics.ts';
import { CONDITION_STATES, forgetResource, resourceStates } from '../trafficshift/metrics.ts';

const KIND = 'MigrationSlice';

export class SliceMetrics {
  readonly phase; readonly condition; readonly result; readonly weight; readonly rollbacks;

  constructor(registry: Registry = defaultRegistry) {
    ({ phase: this.phase, condition: this.condition, result: this.result } = resourceStates(registry));
    this.weight = gauge({ name: 'cutover_migrationslice_weight', help: 'Canary weight (0-100) of the slice\'s TrafficShift.', labelNames: ['namespace', 'name'] as const, registry });
    this.rollbacks = counter({ name: 'cutover_rollbacks_total', help: 'Rollbacks, by trigger.', labelNames: ['kind', 'namespace', 'name', 'trigger'] as const, registry });
  }

  observe(namespace: string, name: string, status: MigrationSliceStatus): void {
    this.phase.set({ kind: KIND, namespace, name }, MigrationSlicePhaseValues, status.phase ?? 'Pending');
    for (const c of status.conditions ?? []) this.condition.set({ kind: KIND, namespace, name, type: c.type }, CONDITION_STATES, c.status);
    this.weight.set({ namespace, name }, status.currentWeight ?? 0);
  }

  rollback(namespace: string, name: string, trigger: string): void {
    this.rollbacks.inc({ kind: KIND, namespace, name, trigger });
  }

  forget(namespace: string, name: string): void {
    forgetResource(this, [this.rollbacks], KIND, namespace, name);
    this.weight.remove({ namespace, name });
  }
}
