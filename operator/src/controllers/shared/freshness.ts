// Moved to kube/freshness.ts (routers need it too); re-exported for the controllers.
export { newerObject } from '../../kube/freshness.ts';
