// The accepted-action log: one JSON object per line, appended and fsynced before the action is
// acknowledged. Replaying it from genesis rebuilds the exact chain (same block times too: the
// genesis clock is in the first line).
import fs from "node:fs";
import path from "node:path";

export const LOG_FORMAT = 1;
const FILE = "chain.jsonl";

export class StateLogError extends Error {}

/** An in-memory log, used when the devnet runs without --state. */
export class MemoryLog {
  constructor(genesis) {
    this.genesis = genesis;
    this.entries = [];
  }
  append(entry) {
    this.entries.push(entry);
  }
  close() {}
}

/** A log in `dir`; opens the existing one or starts a new one with `newGenesis()`. */
export class FileLog {
  constructor(dir, newGenesis) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, FILE);
    if (fs.existsSync(this.file)) {
      this.#load();
    } else {
      this.genesis = newGenesis();
      this.entries = [];
      fs.writeFileSync(this.file, JSON.stringify({ kind: "genesis", format: LOG_FORMAT, ...this.genesis }) + "\n");
    }
    this.fd = fs.openSync(this.file, "a");
  }

  #load() {
    const text = fs.readFileSync(this.file, "utf8");
    const lines = text.split("\n");
    const tail = lines.pop(); // "" when the file ends with a newline
    if (tail !== "") {
      // A crash in the middle of an append leaves a partial last line: that action was never
      // acknowledged, so drop it.
      process.stderr.write(`devnet: dropping an incomplete last line of ${this.file}\n`);
      fs.truncateSync(this.file, Buffer.byteLength(text) - Buffer.byteLength(tail));
    }
    const parsed = lines.map((line, i) => {
      try {
        return JSON.parse(line);
      } catch {
        throw new StateLogError(`${this.file} line ${i + 1} is not JSON: the state is damaged; move the directory away or start with --reset`);
      }
    });
    const [head, ...entries] = parsed;
    if (!head || head.kind !== "genesis" || head.format !== LOG_FORMAT) {
      throw new StateLogError(`${this.file} does not start with a format-${LOG_FORMAT} genesis line; start with --reset to create a new chain`);
    }
    const { kind: _k, format: _f, ...genesis } = head;
    this.genesis = genesis;
    this.entries = entries;
  }

  append(entry) {
    fs.writeSync(this.fd, JSON.stringify(entry) + "\n");
    fs.fsyncSync(this.fd);
    this.entries.push(entry);
  }

  close() {
    fs.closeSync(this.fd);
  }
}

/** Delete the log in `dir` (--reset). */
export function resetState(dir) {
  fs.rmSync(path.join(dir, FILE), { force: true });
}
