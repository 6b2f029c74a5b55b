// Clarity value helpers: hex (de)serialization and the `repr` strings the Stacks API prints.
import { deserializeCV, serializeCV } from "@stacks/transactions";
import { BadRequest } from "./errors.mjs";

/** "0x"-prefixed consensus serialization of a Clarity value. */
export function cvToHex(cv) {
  return "0x" + serializeCV(cv);
}

/** Parse "0x…" (or bare) hex into a Clarity value; a clear 400 when it is not one. */
export function hexToCV(hex, what = "value") {
  if (typeof hex !== "string" || !/^(0x)?([0-9a-fA-F]{2})+$/.test(hex)) {
    throw new BadRequest(`${what} must be a hex string of a serialized Clarity value (e.g. "0x0100000000000000000000000000000001" for u1)`);
  }
  try {
    const cv = deserializeCV(hex.replace(/^0x/, ""));
    if (serializeCV(cv) !== hex.replace(/^0x/, "").toLowerCase()) throw new Error("trailing or non-canonical bytes");
    return cv;
  } catch (e) {
    throw new BadRequest(`${what} is not a valid serialized Clarity value: ${e.message}`);
  }
}

// Rust's std::ascii::escape_default, which Clarity's Display uses for string-ascii.
function escapeAsciiByte(b) {
  switch (b) {
    case 0x09: return "\\t";
    case 0x0d: return "\\r";
    case 0x0a: return "\\n";
    case 0x5c: return "\\\\";
    case 0x27: return "\\'";
    case 0x22: return '\\"';
  }
  if (b >= 0x20 && b < 0x7f) return String.fromCharCode(b);
  return "\\x" + b.toString(16).padStart(2, "0");
}

/** The API's `repr` of a value: Clarity's own Display format ('ST… principals, u1, (tuple (a u1))). */
export function reprCV(cv) {
  switch (cv.type) {
    case "int": return BigInt(cv.value).toString();
    case "uint": return "u" + BigInt(cv.value).toString();
    case "true": return "true";
    case "false": return "false";
    case "buffer": return "0x" + cv.value;
    case "address":
    case "contract": return "'" + cv.value;
    case "none": return "none";
    case "some": return `(some ${reprCV(cv.value)})`;
    case "ok": return `(ok ${reprCV(cv.value)})`;
    case "err": return `(err ${reprCV(cv.value)})`;
    case "list": return cv.value.length ? `(list ${cv.value.map(reprCV).join(" ")})` : "(list )";
    case "tuple": {
      const keys = Object.keys(cv.value).sort();
      return `(tuple ${keys.map((k) => `(${k} ${reprCV(cv.value[k])})`).join(" ")})`;
    }
    case "ascii": return '"' + [...Buffer.from(cv.value, "latin1")].map(escapeAsciiByte).join("") + '"';
    case "utf8": {
      const chars = [...cv.value].map((ch) => {
        const cp = ch.codePointAt(0);
        return cp < 0x80 ? escapeAsciiByte(cp) : `\\u{${cp.toString(16)}}`;
      });
      return 'u"' + chars.join("") + '"';
    }
    default: throw new Error(`unknown Clarity value type ${cv.type}`);
  }
}

/** A contract-interface type (as in /v2/contracts/interface) written as Clarity source. */
export function typeToString(t) {
  if (typeof t === "string") {
    return { uint128: "uint", int128: "int", bool: "bool", principal: "principal", none: "none", trait_reference: "trait_reference" }[t] ?? t;
  }
  if (t.buffer) return `(buff ${t.buffer.length})`;
  if (t["string-ascii"]) return `(string-ascii ${t["string-ascii"].length})`;
  if (t["string-utf8"]) return `(string-utf8 ${t["string-utf8"].length})`;
  if (t.optional) return `(optional ${typeToString(t.optional)})`;
  if (t.response) return `(response ${typeToString(t.response.ok)} ${typeToString(t.response.error)})`;
  if (t.list) return `(list ${t.list.length} ${typeToString(t.list.type)})`;
  if (t.tuple) return `(tuple ${t.tuple.map((f) => `(${f.name} ${typeToString(f.type)})`).join(" ")})`;
  return JSON.stringify(t);
}

/** "(define-public (name (arg type) …))", the API's function_signature. */
export function functionSignature(fn) {
  const access = { public: "define-public", read_only: "define-read-only", private: "define-private" }[fn.access];
  const args = fn.args.map((a) => ` (${a.name} ${typeToString(a.type)})`).join("");
  return `(${access} (${fn.name}${args}))`;
}
