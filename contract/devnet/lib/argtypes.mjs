// Does a Clarity value fit a contract-interface type? The node refuses a contract call whose
// arguments do not type-check (BadFunctionArgument) before it reaches the mempool; so do we.
import { typeToString } from "./clarity.mjs";

const utf8Length = (s) => [...s].length; // string-utf8 lengths count characters

/** null when `cv` is admitted by `type`, else a short reason. */
export function typeMismatch(type, cv) {
  const want = typeToString(type);
  const bad = (why = "") => `expected ${want}, got ${cv.type}${why}`;
  if (typeof type === "string") {
    switch (type) {
      case "uint128": return cv.type === "uint" ? null : bad();
      case "int128": return cv.type === "int" ? null : bad();
      case "bool": return cv.type === "true" || cv.type === "false" ? null : bad();
      case "principal": return cv.type === "address" || cv.type === "contract" ? null : bad();
      case "trait_reference": return cv.type === "contract" ? null : bad(" (a trait argument must be a contract principal)");
      case "none": return bad(); // a type no value inhabits (e.g. the error side of (response uint none))
      default: return `unsupported type ${want}`;
    }
  }
  if (type.buffer) {
    if (cv.type !== "buffer") return bad();
    return cv.value.length / 2 <= type.buffer.length ? null : bad(` of ${cv.value.length / 2} bytes`);
  }
  if (type["string-ascii"]) {
    if (cv.type !== "ascii") return bad();
    return cv.value.length <= type["string-ascii"].length ? null : bad(` of length ${cv.value.length}`);
  }
  if (type["string-utf8"]) {
    if (cv.type !== "utf8") return bad();
    return utf8Length(cv.value) <= type["string-utf8"].length ? null : bad(` of length ${utf8Length(cv.value)}`);
  }
  if (type.optional) {
    if (cv.type === "none") return null;
    if (cv.type !== "some") return bad();
    return typeMismatch(type.optional, cv.value);
  }
  if (type.response) {
    if (cv.type === "ok") return typeMismatch(type.response.ok, cv.value);
    if (cv.type === "err") return typeMismatch(type.response.error, cv.value);
    return bad();
  }
  if (type.list) {
    if (cv.type !== "list") return bad();
    if (cv.value.length > type.list.length) return bad(` of ${cv.value.length} items`);
    for (const [i, item] of cv.value.entries()) {
      const why = typeMismatch(type.list.type, item);
      if (why) return `item ${i}: ${why}`;
    }
    return null;
  }
  if (type.tuple) {
    if (cv.type !== "tuple") return bad();
    const names = Object.keys(cv.value).sort();
    const wanted = type.tuple.map((f) => f.name).sort();
    if (names.join(",") !== wanted.join(",")) return bad(` with fields {${names.join(", ")}}`);
    for (const field of type.tuple) {
      const why = typeMismatch(field.type, cv.value[field.name]);
      if (why) return `field ${field.name}: ${why}`;
    }
    return null;
  }
  return `unsupported type ${want}`;
}

/** null when the arguments fit the function's parameters, else a reason naming the argument. */
export function argumentsMismatch(fn, args) {
  if (args.length !== fn.args.length) {
    return `${fn.name} takes ${fn.args.length} argument(s), got ${args.length}`;
  }
  for (const [i, param] of fn.args.entries()) {
    const why = typeMismatch(param.type, args[i]);
    if (why) return `argument ${i} (${param.name}): ${why}`;
  }
  return null;
}
