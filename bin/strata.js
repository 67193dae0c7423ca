#!/usr/bin/env node
// Entry of the `strata` command; the code lives in dist/ (run `npm run build` first).
import("../dist/src/cli/main.js").catch((err) => {
  if (err && err.code === "ERR_MODULE_NOT_FOUND") {
    console.error("strata is not built yet: run `npm run build` in the strata checkout first");
    process.exit(1);
  }
  throw err;
});
