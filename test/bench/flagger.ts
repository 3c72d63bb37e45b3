// placeholder, replaced below
import type { TestbedInfo } from '../testbed/testbed.ts';
export interface FlaggerResult { rows: Array<{ what: string; value: string; target?: string }>; notes: string[] }
export async function flaggerBench(_info: TestbedInfo): Promise<FlaggerResult> { throw new Error('not yet'); }
