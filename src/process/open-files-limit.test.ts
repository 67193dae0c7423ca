import assert from "node:assert/strict";
import { test } from "node:test";
import { openFilesLimit, parseOpenFilesLimit } from "./open-files-limit.js";

const limits = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                40000                files
Max locked memory         8388608              8388608              bytes
`;

test("the soft open-files limit is read from /proc/PID/limits", () => {
  assert.equal(parseOpenFilesLimit(limits), 20000);
  assert.equal(parseOpenFilesLimit(limits.replace("20000  ", "unlimited")), undefined);
  assert.equal(parseOpenFilesLimit("Max cpu time unlimited unlimited seconds"), undefined);
});

test("this process has a limit the kernel reports", () => {
  const n = openFilesLimit();
  assert.ok(n === undefined || n > 0);
});
