import { parseAllDocuments } from "yaml";
import { NetAttachError } from "./errors.js";

/**
 * The objects of a manifest file as `kubectl apply -f` reads it: JSON (one object, a list of
 * them, or a `kind: List` with `items`), or YAML documents separated by `---` (read by the `yaml`
 * package: YAML 1.2, as Kubernetes manifests are written). A document that does not parse is
 * refused with its line; duplicate keys are refused, and alias expansion is bounded (a hostile
 * file cannot blow up into gigabytes).
 */
export function parseManifests(text: string, file = "the manifest"): unknown[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw new NetAttachError(
        "invalid-definition",
        `${file} is not JSON: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return flatten(Array.isArray(value) ? value : [value]);
  }
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
  const values = (Array.isArray(docs) ? docs : [docs]).map((doc) => {
    const error = doc.errors[0];
    if (error) {
      const line = error.linePos?.[0]?.line;
      const what = error.message.split("\n")[0] ?? error.message;
      throw new NetAttachError(
        "invalid-definition",
        `${file}${line ? `, line ${line}` : ""}: ${what.replace(/ at line \d+, column \d+:?$/, "")}`,
      );
    }
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  });
  return flatten(values.filter((d) => d !== null && d !== undefined));
}

/** A `kind: List` (what `kubectl get -o json` prints) stands for its items. */
function flatten(values: unknown[]): unknown[] {
  return values.flatMap((v) =>
    v &&
    typeof v === "object" &&
    (v as { kind?: unknown }).kind === "List" &&
    Array.isArray((v as { items?: unknown }).items)
      ? ((v as { items: unknown[] }).items as unknown[])
      : [v],
  );
}
