#!/usr/bin/env node
// Entry of the `strata` command; the code lives in dist/ (run `npm run build` first).
// `bgp-speaker` loads only its own modules (a long-lived process whose memory counts).
import { setFlagsFromString } from "node:v8";

const speaker = process.argv[2] === "bgp-speaker";
// The speaker's young generation stays at its first size (2 MiB) instead of growing to 32 MiB
// under a burst of UPDATEs: ~30 MiB less peak RSS for a route reflector (bench/README.md, issue 15).
// Set before the heap grows; a semi-space flag given to node by hand wins.
if (speaker && !process.execArgv.some((a) => a.includes("semi-space")))
  setFlagsFromString("--semi-space-growth-factor=1");
const entry = speaker ? "bgp-speaker-main.js" : "main.js";
import(`../dist/src/cli/${entry}`).catch((err) => {
  if (err && err.code === "ERR_MODULE_NOT_FOUND") {
    console.error("strata is not built yet: run `npm run build` in the strata checkout first");
    process.exit(1);
  }
  throw err;
});
