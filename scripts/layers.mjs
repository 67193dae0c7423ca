// The layers of src/ and what each may import, written into biome.json as noRestrictedImports
// rules (one override per folder), so an import that runs back up fails `npm run lint`.
// Usage: node scripts/layers.mjs          rewrite biome.json's overrides from the table below
//        node scripts/layers.mjs --check  exit 1 if biome.json is not what the table gives
// The table is the one in docs/ARCHITECTURE.md ("Layers"): bottom first; a folder may import its
// own files and the folders of lower layers, never its own layer's other folders or higher ones.
// Test files (*.test.ts) are exempt: tests wire real parts together.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

export const layers = [
  ["common"],
  ["process"],
  ["cni", "kernel", "datastore"],
  ["ipam", "bgp", "netattach"],
  ["plugins", "cluster"],
  ["backends"],
  ["agent", "agent-host"],
  ["lab"],
  ["doctor"],
  ["cli"],
];

const dirsOf = (path) =>
  readdirSync(path, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
const present = new Set(dirsOf("src"));
// src/shim is C (no imports to check).
const unplaced = [...present].filter((d) => !layers.flat().includes(d) && d !== "shim");
if (unplaced.length > 0) {
  console.error(`scripts/layers.mjs: src/${unplaced.join(", src/")} has no layer: add it to the table`);
  process.exit(1);
}
/** Plugins never import each other (containernetworking/plugins' rule); all may use toolkit/. */
const pluginDirs = dirsOf("src/plugins");

function layerPatterns(index, name) {
  const forbidden = [...layers.slice(index + 1).flat(), ...layers[index].filter((n) => n !== name)].filter(
    (n) => present.has(n),
  );
  const patterns = [
    {
      group: [...forbidden.flatMap((n) => [`**/${n}/*`, `**/${n}/**`]), "**/test/**"],
      message: `src/${name} may import only the layers below it (docs/ARCHITECTURE.md, "Layers"), and never test/: move the shared part down, or pass it in.`,
    },
  ];
  if (name === "common")
    patterns.push({
      group: ["node:*"],
      message:
        "src/common is plain TypeScript: no Node built-ins (I/O belongs in process/, kernel/ or datastore/).",
    });
  return patterns;
}

const rule = (includes, patterns) => ({
  includes: [...includes, "!**/*.test.ts"],
  linter: { rules: { style: { noRestrictedImports: { level: "error", options: { patterns } } } } },
});

function overridesFor(index, name) {
  const own = rule([`src/${name}/**`], layerPatterns(index, name));
  if (name !== "plugins") return [own];
  // A later override's options replace an earlier one's: each plugin folder repeats the layer rule.
  return [
    own,
    ...pluginDirs.map((dir) => {
      const others = pluginDirs.filter((o) => o !== dir && (o !== "toolkit" || dir === "toolkit"));
      const message = `src/plugins/${dir} may not import another plugin's folder: share it through src/plugins/toolkit/ (plugins never import each other).`;
      const group = others.flatMap((o) => [`../${o}/*`, `../${o}/**`, `**/plugins/${o}/**`]);
      return rule([`src/plugins/${dir}/**`], [...layerPatterns(index, name), { group, message }]);
    }),
  ];
}

const overrides = layers.flatMap((layer, i) =>
  layer.filter((n) => present.has(n)).flatMap((n) => overridesFor(i, n)),
);
const config = JSON.parse(readFileSync("biome.json", "utf8"));
if (process.argv.includes("--check")) {
  if (JSON.stringify(config.overrides) !== JSON.stringify(overrides)) {
    console.error("biome.json's layer rules differ from scripts/layers.mjs: run `npm run layers`");
    process.exit(1);
  }
} else {
  config.overrides = overrides;
  writeFileSync("biome.json", `${JSON.stringify(config, null, 2)}\n`);
}
