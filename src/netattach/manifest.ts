import { NetAttachError } from "./errors.js";

/**
 * The objects of a manifest file as `kubectl apply -f` reads it: JSON (one object, a list of
 * them, or a `kind: List` with `items`), or YAML documents separated by `---`.
 *
 * The YAML reader covers what Kubernetes manifests use — block mappings and sequences,
 * plain/single/double-quoted scalars (also spanning lines, as NADs write `config: '{ ... }'`),
 * literal and folded block scalars (`|`, `|-`, `>`), comments, and one-line flow collections that
 * are JSON — not anchors, aliases, tags or complex keys, which it refuses by line number.
 * (Strata adds no YAML dependency for this; the `yaml` package would be the full reader.)
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
  const docs = splitDocuments(text).map((lines) => new YamlReader(lines, file).document());
  return flatten(docs.filter((d) => d !== null && d !== undefined));
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

interface Line {
  readonly no: number;
  readonly indent: number;
  /** The line without indentation (comments are stripped by the reader, outside quotes). */
  readonly text: string;
  readonly raw: string;
}

function splitDocuments(text: string): Line[][] {
  const docs: Line[][] = [[]];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (/^(---|\.\.\.)(\s|$)/.test(raw)) {
      docs.push([]);
      const rest = raw.slice(3).trim();
      if (rest !== "" && !rest.startsWith("#"))
        (docs.at(-1) as Line[]).push({ no: i + 1, indent: 0, text: rest, raw: rest });
      return;
    }
    const indent = raw.length - raw.trimStart().length;
    (docs.at(-1) as Line[]).push({ no: i + 1, indent, text: raw.trim(), raw });
  });
  return docs;
}

/** Strip a trailing comment that is outside quotes. */
function stripComment(s: string): string {
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(s[i - 1] as string))) return s.slice(0, i).trimEnd();
  }
  return s;
}

function plainScalar(s: string): unknown {
  if (s === "" || s === "~" || s === "null" || s === "Null" || s === "NULL") return null;
  if (/^(true|True|TRUE)$/.test(s)) return true;
  if (/^(false|False|FALSE)$/.test(s)) return false;
  if (/^[-+]?\d+$/.test(s)) return Number(s);
  if (/^[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
  return s;
}

class YamlReader {
  #i = 0;
  readonly #lines: Line[];
  constructor(
    lines: readonly Line[],
    private readonly file: string,
  ) {
    this.#lines = [...lines];
  }

  #fail(line: Line | undefined, what: string): never {
    throw new NetAttachError("invalid-definition", `${this.file}${line ? ` line ${line.no}` : ""}: ${what}`);
  }

  /** The next line with content (blank and comment-only lines skipped). */
  #peek(): Line | undefined {
    while (this.#i < this.#lines.length) {
      const l = this.#lines[this.#i] as Line;
      if (l.text === "" || l.text.startsWith("#")) this.#i++;
      else return l;
    }
    return undefined;
  }

  document(): unknown {
    const first = this.#peek();
    if (!first) return null;
    const value = this.#block(first.indent);
    const rest = this.#peek();
    if (rest) this.#fail(rest, "unexpected content (check its indentation)");
    return value;
  }

  #block(indent: number): unknown {
    const l = this.#peek() as Line;
    return l.text.startsWith("- ") || l.text === "-" ? this.#sequence(indent) : this.#mapping(indent);
  }

  #sequence(indent: number): unknown[] {
    const out: unknown[] = [];
    for (
      let l = this.#peek();
      l && l.indent === indent && (l.text.startsWith("- ") || l.text === "-");
      l = this.#peek()
    ) {
      const rest = l.text.slice(1).trimStart();
      if (rest === "") {
        this.#i++;
        const next = this.#peek();
        out.push(next && next.indent > indent ? this.#block(next.indent) : null);
      } else {
        // "- key: value" opens a mapping at the item's content column.
        const column = indent + (l.text.length - rest.length);
        this.#lines[this.#i] = { no: l.no, indent: column, text: rest, raw: l.raw };
        out.push(this.#isMapping(rest) ? this.#mapping(column) : this.#value(rest, indent, l));
      }
    }
    return out;
  }

  #isMapping(text: string): boolean {
    return /^("[^"]*"|'[^']*'|[^\s"'#\-[{][^:#]*?|-[^\s:#][^:#]*?)\s*:(\s|$)/.test(text);
  }

  #mapping(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let l = this.#peek(); l && l.indent === indent; l = this.#peek()) {
      if (l.text.startsWith("- ")) break;
      const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:#]+?)\s*:(?:\s+(.*))?$/.exec(stripComment(l.text));
      if (!m) this.#fail(l, `expected "key: value" (got ${JSON.stringify(l.text)})`);
      const rawKey = m[1] as string;
      if (/^[&*!?]/.test(rawKey)) this.#fail(l, "anchors, aliases, tags and complex keys are not supported");
      const key = rawKey.startsWith('"')
        ? (JSON.parse(rawKey) as string)
        : rawKey.startsWith("'")
          ? rawKey.slice(1, -1).replaceAll("''", "'")
          : rawKey;
      if (key in out) this.#fail(l, `duplicate key "${key}"`);
      const rest = (m[2] ?? "").trim();
      if (rest === "") {
        this.#i++;
        const next = this.#peek();
        // A sequence may sit at the key's own indentation (Kubernetes style).
        if (next && (next.indent > indent || (next.indent === indent && next.text.startsWith("- "))))
          out[key] = this.#block(next.indent);
        else out[key] = null;
      } else out[key] = this.#value(rest, indent, l);
    }
    return out;
  }

  /** The value after "key:" or "- " on line `l` (which the reader is on); consumes its lines. */
  #value(rest: string, indent: number, l: Line): unknown {
    if (/^[&*!]/.test(rest)) this.#fail(l, "anchors, aliases and tags are not supported");
    if (/^[|>][-+]?$/.test(stripComment(rest))) return this.#blockScalar(stripComment(rest), indent);
    if (rest.startsWith('"') || rest.startsWith("'")) return this.#quoted(rest, l);
    const text = stripComment(rest);
    if (text.startsWith("{") || text.startsWith("[")) {
      this.#i++;
      try {
        return JSON.parse(text);
      } catch {
        this.#fail(l, "flow collections must be JSON on one line here");
      }
    }
    // A plain scalar may continue on more-indented lines (folded with spaces).
    this.#i++;
    const parts = [text];
    for (let n = this.#peek(); n && n.indent > indent && !this.#isMapping(n.text); n = this.#peek()) {
      parts.push(stripComment(n.text));
      this.#i++;
    }
    return parts.length === 1 ? plainScalar(text) : parts.join(" ");
  }

  #quoted(rest: string, l: Line): string {
    const q = rest[0] as string;
    // Gather lines until the closing quote; line breaks fold to one space (blank lines to "\n").
    let body = rest.slice(1);
    const start = this.#i;
    for (;;) {
      const end = closing(body, q);
      if (end >= 0) {
        const after = stripComment(body.slice(end + 1)).trim();
        if (after !== "") this.#fail(l, `unexpected ${JSON.stringify(after)} after the closing quote`);
        this.#i++;
        body = body.slice(0, end);
        break;
      }
      this.#i++;
      const next = this.#lines[this.#i];
      if (!next)
        this.#fail(this.#lines[start], `the ${q === '"' ? "double" : "single"}-quoted value is not closed`);
      body += next.text === "" ? "\n" : ` ${next.text}`;
    }
    body = body.replace(/ \n /g, "\n");
    if (q === "'") return body.replaceAll("''", "'");
    try {
      return JSON.parse(`"${body.replace(/\n/g, "\\n").replace(/\t/g, "\\t")}"`) as string;
    } catch {
      this.#fail(l, "a double-quoted value has an escape JSON does not know");
    }
  }

  #blockScalar(header: string, indent: number): string {
    this.#i++;
    const lines: string[] = [];
    let column: number | undefined;
    while (this.#i < this.#lines.length) {
      const n = this.#lines[this.#i] as Line;
      if (n.text === "") {
        lines.push("");
        this.#i++;
        continue;
      }
      if (n.indent <= indent) break;
      column ??= n.indent;
      if (n.indent < column) break;
      lines.push(n.raw.slice(column));
      this.#i++;
    }
    while (lines.length > 0 && lines.at(-1) === "" && !header.endsWith("+")) lines.pop();
    const text = header.startsWith(">") ? lines.join(" ").replace(/ {2,}/g, " ") : lines.join("\n");
    return header.endsWith("-") ? text : `${text}\n`;
  }
}

/** Index of the closing quote in `s`, or -1. */
function closing(s: string, q: string): number {
  for (let i = 0; i < s.length; i++) {
    if (q === '"' && s[i] === "\\") i++;
    else if (s[i] === q) {
      if (q === "'" && s[i + 1] === "'") i++;
      else return i;
    }
  }
  return -1;
}
