// Per-slice metrics: phase and conditions (shared names with the other kinds, `kind` label),
// canary weight of the child shift, and rollbacks.
import { MigrationSlicePhaseValues, type MigrationSliceStatus } from '../../api/migrationslice.ts';
import { counter, gauge, registry as defaultRegistry, type Registry } from '../../runtime/metrics.ts';

const KIND = 'MigrationSlice';

export class SliceMetrics {
  readonly phase; readonly condition; readonly weight; readonly rollbacks;

  constructor(registry: Registry = defaultRegistry) {
    this.phase = gauge({ name: 'cutover_resource_phase', help: 'Current phase of a cutover resource (1 for the current phase).', labelNames: ['kind', 'namespace', 'name', 'phase'] as const, registry });
    this.condition = gauge({ name: 'cutover_resource_condition', help: 'Conditions of a cutover resource (1 for the current status).', labelNames: ['kind', 'namespace', 'name', 'type', 'status'] as const, registry });
    this.weight = gauge({ name: 'cutover_migrationslice_weight', help: 'Canary weight (0-100) of the slice\'s TrafficShift.', labelNames: ['namespace', 'name'] as const, registry });
    this.rollbacks = counter({ name: 'cutover_rollbacks_total', help: 'Rollbacks, by trigger.', labelNames: ['kind', 'namespace', 'name', 'trigger'] as const, registry });
  }

  observe(namespace: string, name: string, status: MigrationSliceStatus): void {
    for (const p of MigrationSlicePhaseValues) this.phase.set({ kind: KIND, namespace, name, phase: p }, p === (status.phase ?? 'Pending') ? 1 : 0);
    for (const c of status.conditions ?? []) {
      for (const s of ['True', 'False', 'Unknown']) this.condition.set({ kind: KIND, namespace, name, type: c.type, status: s }, c.status === s ? 1 : 0);
    }
    this.weight.set({ namespace, name }, status.currentWeight ?? 0);
  }

  rollback(namespace: string, name: string, trigger: string): void {
    this.rollbacks.inc({ kind: KIND, namespace, name, trigger });
  }

  forget(namespace: string, name: string): void {
    this.weight.remove({ namespace, name });
    for (const p of MigrationSlicePhaseValues) this.phase.remove({ kind: KIND, namespace, name, phase: p });
  }
}
