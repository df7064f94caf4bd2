/**
 * The template values of an error are checked at compile time: `tsc` (the `npx tsc --noEmit`
 * check) fails if any `@ts-expect-error` line below compiles, i.e. if a missing or unknown value
 * stopped being a type error. At run time the same calls show what the check prevents.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtError, type ErrorArgs, type ErrorCode, type ValuesOf } from "./index.ts";

/** A helper that forwards a code and its values, as the command builders' `fail` does. */
function raise<C extends ErrorCode>(code: C, ...args: ErrorArgs<C>): VirtError {
  return new VirtError(code, ...args);
}

test("a missing template value does not compile (and would leave a literal {name} in the message)", () => {
  // @ts-expect-error -- "object" and "reason" are missing
  const e = new VirtError("JOB_CANCELLED", { owner: "virsh" });
  assert.match(e.message, /\{object\}/);
  // @ts-expect-error -- the values are required when the template has placeholders
  const noValues = new VirtError("API_NO_SUPPORT");
  assert.match(noValues.message, /\{api\}/);
  // @ts-expect-error -- the same through a helper that forwards a code and its values
  assert.match(raise("API_NO_SUPPORT", {}).message, /\{api\}/);
});

test("an unknown template value does not compile", () => {
  // @ts-expect-error -- "extra" is not a placeholder of the template
  const e = new VirtError("API_NO_SUPPORT", { api: "virDomainCreate", extra: 1 });
  assert.equal(e.message, "this function is not supported by the connection driver: virDomainCreate");
  // @ts-expect-error -- a template without placeholders takes no values
  const none = new VirtError("DOMAIN_XML_NAME_MISSING", { name: "x" });
  assert.equal(none.message, "missing name information");
});

test("the values type is exactly the template's placeholders", () => {
  const values: ValuesOf<"JOB_CANCELLED"> = { owner: "a", object: "b", reason: "c" };
  const e = new VirtError("JOB_CANCELLED", values);
  assert.doesNotMatch(e.message, /[{}]/);
  for (const v of Object.values(values))
    assert.ok(e.message.includes(String(v)), `${String(v)} in ${e.message}`);
});
