import { resolve } from "node:path";

/** Where `npm run build` puts the compiled helper (dist/native/, from dist/src/kernel/sleeve/). */
export const builtSleeveHelperPath = resolve(import.meta.dirname, "../../../native/strata-sleeve");
