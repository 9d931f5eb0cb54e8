#!/usr/bin/env node
// Entry point of the `jishi` CLI. The sources are TypeScript run through tsx's loader,
// so a clone works without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
await main(process.argv);
