// Goal: the replicated state machine of the Raft simulation: a tiny key-value store with put,
// compare-and-swap, delete and read. Method: commands are JSON in the entry data; apply returns
// the outcome the client sees; snapshots serialize the whole map.

/** A command in a log entry. `op` names the client operation that proposed it. */
export type KvCommand =
  | { readonly kind: "put"; readonly op: number; readonly key: string; readonly value: string }
  | { readonly kind: "delete"; readonly op: number; readonly key: string }
  | {
    readonly kind: "cas";
    readonly op: number;
    readonly key: string;
    readonly expected: string | undefined;
    readonly value: string;
  };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a command for `Raft.propose()`. */
export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/** Decodes a command from an entry's data. */
export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

/** An in-memory key-value state machine. */
export class SimKv {
  readonly #values = new Map<string, string>();

  /** Applies a command; returns whether a cas swapped (true for put and delete). */
  apply(command: KvCommand): boolean {
    switch (command.kind) {
      case "put":
        this.#values.set(command.key, command.value);
        return true;
      case "delete":
        this.#values.delete(command.key);
        return true;
      case "cas":
        if (this.#values.get(command.key) !== command.expected) return false;
        this.#values.set(command.key, command.value);
        return true;
    }
  }

  /** Reads a key. */
  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  /** Serializes the store. */
  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify([...this.#values].sort()));
  }

  /** Replaces the store with a snapshot's content. */
  restore(data: Uint8Array): void {
    this.#values.clear();
    for (const [key, value] of JSON.parse(decoder.decode(data)) as [string, string][]) {
      this.#values.set(key, value);
    }
  }

  /** A stable rendering for comparing replicas. */
  describe(): string {
    return JSON.stringify([...this.#values].sort());
  }
}
