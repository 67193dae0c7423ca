import ipaddr from "ipaddr.js";
import { z } from "zod";

/**
 * Zod schemas for backend flag values as the command line gives them (strings), each refusing a
 * bad value with what it takes, quoting the value: `"abc" is not a whole number from 1 to 16777215`.
 * The registry puts the flag's name in front.
 */

const text = () => z.string({ error: (iss) => (iss.input === undefined ? "missing" : "must be text") });

/** A whole number from `min` to `max`. */
export const wholeNumberFlag = (min: number, max: number) =>
  text().transform((v, ctx) => {
    if (/^\d+$/.test(v) && Number(v) >= min && Number(v) <= max) return Number(v);
    ctx.addIssue({ code: "custom", input: v, message: `"${v}" is not a whole number from ${min} to ${max}` });
    return z.NEVER;
  });

/** A TCP/UDP port, 1–65535. */
export const portFlag = () => wholeNumberFlag(1, 65535);

/** A dotted-quad IPv4 address (router ids, cluster ids). */
export const ipv4Flag = () =>
  text().transform((v, ctx) => {
    if (ipaddr.IPv4.isValidFourPartDecimal(v)) return v;
    ctx.addIssue({ code: "custom", input: v, message: `"${v}" is not an IPv4 address (a.b.c.d)` });
    return z.NEVER;
  });

/** A comma-separated list (empty items dropped); not given is the empty list. */
export const commaListFlag = () =>
  text()
    .optional()
    .transform((v) => v?.split(",").filter(Boolean) ?? []);

/** A switch (`--no-x` gives false; Commander sets true when it is not given). */
export const switchFlag = () => z.boolean({ error: "must be on or off" });

/** A repeatable flag's values, in order. */
export const repeatedFlag = () => z.array(text()).readonly();

/** One of a fixed list of words. */
export const choiceFlag = <const T extends string>(choices: readonly T[]) =>
  text().transform((v, ctx) => {
    if ((choices as readonly string[]).includes(v)) return v as T;
    const list = `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`;
    ctx.addIssue({ code: "custom", input: v, message: `"${v}" is not ${list}` });
    return z.NEVER;
  });
