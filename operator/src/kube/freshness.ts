// An informer's cache can lag behind the operator's own last write by a few milliseconds. Planning
// on the older copy could repeat a step, so a reconcile uses whichever copy is newer.
interface Versioned { metadata: { resourceVersion?: string | undefined; uid?: string | undefined } }

/** The newer of the cached and the last written copy (resourceVersions are etcd revisions). */
export function newerObject<T extends Versioned>(cached: T | undefined, written: T | undefined): T | undefined {
  if (!written) return cached;
  if (!cached) return undefined; // deleted since we wrote it
  if (cached.metadata.uid !== written.metadata.uid) return cached; // re-created
  const a = revision(cached.metadata.resourceVersion);
  const b = revision(written.metadata.resourceVersion);
  if (a === undefined || b === undefined) return cached;
  return b > a ? written : cached;
}

function revision(rv: string | undefined): bigint | undefined {
  if (!rv || !/^\d+$/.test(rv)) return undefined;
  return BigInt(rv);
}
