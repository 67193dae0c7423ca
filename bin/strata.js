#!/usr/bin/env node
// Entry of the `strata` command; the code lives in dist/ (run `npm run build` first).
// `bgp-speaker` loads only its own modules (a long-lived process whose memory counts).
const entry = process.argv[2] === "bgp-speaker" ? "bgp-speaker-main.js" : "main.js";
import(`../dist/src/cli/${entry}`).catch((err) => {
  if (err && err.code === "ERR_MODULE_NOT_FOUND") {
    console.error("strata is not built yet: run `npm run build` in the strata checkout first");
    process.exit(1);
  }
  throw err;
});
