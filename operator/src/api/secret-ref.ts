// A reference to one key of a Secret in the namespace of the resource (notifiers, web checks).
import * as z from 'zod';
import { resourceName } from './k8s-schema.ts';

export const SecretKeyRefSchema = z.strictObject({
  name: resourceName().describe('Secret name in the namespace of this resource.'),
  key: z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/, { message: 'must be a valid Secret key' }),
});
export type SecretKeyRef = z.infer<typeof SecretKeyRefSchema>;
