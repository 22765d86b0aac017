// Copies the repository's LICENSE into the package (npm ships a package's
// LICENSE whatever `files` says). The copy is not committed: one license text.
import { copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
copyFileSync(join(pkg, '../../LICENSE'), join(pkg, 'LICENSE'));
