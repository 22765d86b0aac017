// Removes the given paths (portable `rm -rf`).
import { rmSync } from 'node:fs';
for (const p of process.argv.slice(2)) rmSync(p, { recursive: true, force: true });
