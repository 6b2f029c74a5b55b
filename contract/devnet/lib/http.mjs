// A small JSON-over-HTTP layer: route table, bounded bodies, and every error as a JSON body.
import http from "node:http";
import { BadRequest, HttpError } from "./errors.mjs";

export const MAX_BODY_BYTES = 4 * 1024 * 1024; // a contract deploy can approach 1 MB of source

const jsonText = (value) => JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v));

function send(res, status, value) {
  const text = jsonText(value);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk); // past the limit: drain, then refuse
    });
    req.on("end", () => {
      if (size > MAX_BODY_BYTES) reject(new HttpError(413, `request body of ${size} bytes is over the ${MAX_BODY_BYTES}-byte limit`));
      else resolve(Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}

function decodePart(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BadRequest(`${JSON.stringify(text)} is not a valid URL path segment`);
  }
}

/** The request as handlers see it. */
class Request {
  constructor(req, url, params, body) {
    this.method = req.method;
    this.url = url;
    this.params = params;
    this.body = body;
    this.contentType = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  }
  /** The body parsed as JSON; a clear 400 when it is not. */
  json() {
    if (this.body.length === 0) throw new BadRequest("the request body is empty; send JSON");
    try {
      return JSON.parse(this.body.toString("utf8"));
    } catch (e) {
      throw new BadRequest(`the request body is not valid JSON: ${e.message}`);
    }
  }
}

/**
 * routes: [{ method, path: RegExp with named groups, handler(request) → { status?, body } }].
 * `log(line)` receives one line per failed request.
 */
export function createHttpServer(routes, log) {
  return http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://devnet");
    try {
      const matching = routes.filter((r) => r.path.test(url.pathname));
      if (matching.length === 0) throw new HttpError(404, `no such endpoint: ${req.method} ${url.pathname}`, { hint: "see contract/devnet/README.md for the endpoints" });
      const route = matching.find((r) => r.method === req.method);
      if (!route) throw new HttpError(405, `${url.pathname} takes ${matching.map((r) => r.method).join(" or ")}, not ${req.method}`);
      const params = Object.fromEntries(Object.entries(url.pathname.match(route.path).groups ?? {}).map(([k, v]) => [k, decodePart(v)]));
      const body = req.method === "POST" ? await readBody(req) : Buffer.alloc(0);
      const { status = 200, body: out } = await route.handler(new Request(req, url, params, body));
      send(res, status, out);
    } catch (e) {
      if (e instanceof HttpError) {
        send(res, e.status, e.body());
      } else {
        log(`${req.method} ${url.pathname} failed: ${e?.stack ?? e}`);
        send(res, 500, { error: `internal devnet error: ${e?.message ?? e}`, hint: "the devnet log (stderr) has the stack trace" });
      }
    }
  });
}
