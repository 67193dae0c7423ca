// The lab's agent, made cheap to start (one agent per emulated node, up to 200 on a laptop):
// 1. a bundle: the agent's entry (dist/src/cli/agent-main.js, compiled by tsc) and every module it
//    imports in one CommonJS file, dist/agent/strata-agent.cjs (no module resolution, one file);
// 2. a V8 startup snapshot of that bundle with every module already evaluated,
//    dist/agent/strata-agent.blob, built with the lab agents' own Node flags (a snapshot loads only
//    under the flags it was built with), beside a note of the Node and flags it needs.
// bench/README.md ("Agent start-up") has the numbers. `bin/strata.js agent` keeps running the
// unbundled modules; the lab runs the snapshot, else the bundle, else the CLI (src/cli/paths.ts).
// Without esbuild, or where the snapshot cannot be built, a warning says so and the lab falls back.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(import.meta.dirname, "..");
const outDir = resolve(root, "dist/agent");
const out = resolve(outDir, "strata-agent.cjs");
const blob = resolve(outDir, "strata-agent.blob");
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

// A module finds its neighbours in dist/ (the spawn helper, the BPF object, the addon) from its own
// import.meta: in the bundle each module gets its own compiled file's location, as a constant.
const ownLocation = {
  name: "own-location",
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, async (args) => {
      const text = await readFile(args.path, "utf8");
      if (!text.includes("import.meta")) return { contents: text, loader: "js" };
      const contents = text
        .replaceAll("import.meta.dirname", JSON.stringify(dirname(args.path)))
        .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href));
      if (contents.includes("import.meta"))
        throw new Error(`${args.path}: an import.meta use the agent bundle cannot place`);
      return { contents, loader: "js" };
    });
  },
};

// Three things differ while V8's startup snapshot of the bundle is built (below),
// and this banner, first in the bundle, smooths them over only then:
// - The builder runs before Node installs the newest built-ins (ES2023 array methods among them;
//   they are back once the snapshot is deserialized), and node:http calls Array.prototype.toSorted
//   as it loads: a stand-in is there meanwhile, removed before V8 serializes the heap.
// - node:http holds native parser state that Node 20 cannot serialize: http and https (the health
//   server's, prom-client's) stay unloaded until first used, in the agent's process.
// - A snapshot's own require loads built-ins only: the packages left out of the bundle (etcd3 and
//   gRPC, loaded on first use) are required from the bundle's place in the checkout instead.
const snapshotBanner = `if (require("node:v8").startupSnapshot?.isBuildingSnapshot()) {
  const v8 = require("node:v8");
  if (!Array.prototype.toSorted) {
    Object.defineProperty(Array.prototype, "toSorted", {
      value(compare) { return Array.prototype.slice.call(this).sort(compare); },
      writable: true, configurable: true,
    });
    v8.startupSnapshot.addSerializeCallback(() => { delete Array.prototype.toSorted; });
  }
  const builtinRequire = require;
  const { createRequire, isBuiltin } = builtinRequire("node:module");
  const bundleFile = __filename;
  let packageRequire;
  const later = new Set(["http", "node:http", "https", "node:https", "http2", "node:http2"]);
  const loaded = new Map();
  const load = (id) => { if (!loaded.has(id)) loaded.set(id, builtinRequire(id)); return loaded.get(id); };
  require = (id) => !isBuiltin(id) ? (packageRequire ??= createRequire(bundleFile))(id)
    : !later.has(id) ? builtinRequire(id) : new Proxy({}, {
    get: (_, key) => load(id)[key],
    has: (_, key) => key in load(id),
    ownKeys: () => { throw new Error(\`\${id} is used while the agent's snapshot is built\`); },
  });
}`;

let build;
try {
  ({ build } = await import("esbuild"));
} catch {
  console.warn("build-agent: esbuild not installed; lab agents run the unbundled CLI (slower to start)");
  process.exit(0);
}

await build({
  entryPoints: [resolve(root, "dist/src/cli/agent-main.js")],
  outfile: out,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // Native addons load from dist/native at run time (they are not JavaScript). etcd3 and gRPC read
  // their .proto files beside their own modules: they load from node_modules, on first use.
  external: ["*.node", "etcd3", "@grpc/*"],
  // import() of those becomes require(): a process started from a snapshot has no import().
  supported: { "dynamic-import": false },
  plugins: [ownLocation],
  banner: { js: snapshotBanner },
  // Whitespace and syntax only (names kept, for stack traces): V8 keeps a script's source for lazy
  // compilation, and with the snapshot every agent holds its own copy: 25.2 → 20.9 MiB private
  // (bench/README.md, "Agent start-up"). STRATA_LAB_AGENT_ENTRY=cli runs the readable modules.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: "warning",
});

// The snapshot, with the lab agents' Node flags (the lab's own list, compiled by tsc).
const { labAgentNodeFlags } = await import(pathToFileURL(resolve(root, "dist/src/lab/agent-argv.js")).href);
const made = spawnSync(
  process.execPath,
  [...labAgentNodeFlags, "--snapshot-blob", blob, "--build-snapshot", out],
  { cwd: outDir, encoding: "utf8" },
);
if (made.status !== 0) {
  rmSync(blob, { force: true });
  const why = (made.stderr || made.error?.message || "").split("\n").filter((l) => /Error|error/.test(l))[0];
  console.warn(
    `build-agent: no startup snapshot (${why ?? `exit ${made.status}`}); lab agents run the bundle`,
  );
} else {
  writeFileSync(
    `${blob}.json`,
    `${JSON.stringify({ node: process.execPath, version: process.version, flags: labAgentNodeFlags })}\n`,
  );
}
