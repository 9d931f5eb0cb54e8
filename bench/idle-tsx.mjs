// The agent benchmark's second baseline: an idle node process that loaded the tsx loader and one TypeScript
// module the way bin/jishi.mjs does, so the agent's footprint can be told apart from the loader's.
import { register } from 'tsx/esm/api';

register();
await import('./idle.ts');
