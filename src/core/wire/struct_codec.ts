/**
 * Typed msgpack codecs for Go values, composed into struct codecs that read and write Go
 * structs the way go-msgpack 0.5.5 does: a map keyed by the Go field names, written in sorted
 * (byte) order, read in any order with unknown keys skipped and missing ones left zero, and a
 * nil in place of any value read as that value's zero (`codec/decode.go` `decodeValue`).
 *
 * Go field names live only in the codec tables built from these; TypeScript sees camelCase.
 *
 * @module
 */

import type { MsgpackReader } from "./msgpack_reader.ts";
import type { MsgpackWriter } from "./msgpack_writer.ts";

/** Reads and writes one Go value of TypeScript type `T`. */
export interface ValueCodec<T> {
  /** Reads the value; the reader is not positioned at nil (nil is handled by the caller). */
  read(reader: MsgpackReader): T;
  /** Writes the value in go-msgpack's format. */
  write(writer: MsgpackWriter, value: T): void;
  /** Go's zero value, used for missing and nil fields. */
  zero(): T;
  /** Whether Go's `omitempty` would drop it. */
  isEmpty(value: T): boolean;
}

/** One struct field: its Go name, its codec, and whether it is tagged `omitempty`. */
export interface FieldSpec<T> {
  /** The Go field name, the msgpack map key. */
  go: string;
  /** The field's value codec. */
  codec: ValueCodec<T>;
  /** Go's `codec:",omitempty"`. */
  omitEmpty?: boolean;
}

/** The fields of a struct whose TypeScript form is `T`, one per property. */
export type StructSpec<T> = { readonly [K in keyof T]-?: FieldSpec<T[K]> };

/** Largest Go `uint8`. */
export const uint8Max = 0xff;
/** Largest Go `uint16`. */
export const uint16Max = 0xffff;
/** Largest Go `uint32`. */
export const uint32Max = 0xffff_ffff;
/** Largest Go `uint64` we represent: wire values above it are refused (`Number.isSafeInteger`). */
export const uint64Max = Number.MAX_SAFE_INTEGER;

/** Reads a value, or its zero when the wire has nil. */
export function readOrZero<T>(reader: MsgpackReader, codec: ValueCodec<T>): T {
  return reader.readNil() ? codec.zero() : codec.read(reader);
}

/** A Go `string`. */
export const stringCodec: ValueCodec<string> = {
  read: (reader) => reader.readString(),
  write: (writer, value) => writer.writeString(value),
  zero: () => "",
  isEmpty: (value) => value.length === 0,
};

/** A Go `[]byte` that is never nil on our side (nil reads as empty, empty writes as `0xa0`). */
export const bytesCodec: ValueCodec<Uint8Array> = {
  read: (reader) => reader.readBytes(),
  write: (writer, value) => writer.writeRaw(value),
  zero: () => new Uint8Array(0),
  isEmpty: (value) => value.length === 0,
};

/** A Go `[]byte` whose nil matters on the wire: `undefined` stands for nil (`0xc0`). */
export const optionalBytesCodec: ValueCodec<Uint8Array | undefined> = {
  read: (reader) => reader.readBytes(),
  write: (writer, value) => value === undefined ? writer.writeNil() : writer.writeRaw(value),
  zero: () => undefined,
  isEmpty: (value) => value === undefined || value.length === 0,
};

/** A Go `bool`. */
export const boolCodec: ValueCodec<boolean> = {
  read: (reader) => reader.readBool(),
  write: (writer, value) => writer.writeBool(value),
  zero: () => false,
  isEmpty: (value) => !value,
};

/** A Go `float64` (written as float64; read from float32, float64 or an integer). */
export const float64Codec: ValueCodec<number> = {
  read: (reader) => reader.readFloat(),
  write: (writer, value) => writer.writeFloat64(value),
  zero: () => 0,
  isEmpty: (value) => value === 0,
};

/** A Go unsigned integer no greater than `max` (`uint8Max`, `uint16Max`, ...). */
export function uintCodec(max: number): ValueCodec<number> {
  return {
    read: (reader) => reader.readUint(max),
    write: (writer, value) => writer.writeUint(value),
    zero: () => 0,
    isEmpty: (value) => value === 0,
  };
}

/** A Go signed integer (`int`, `int64`, `time.Duration`) limited to `min..max`. */
export function intCodec(min: number, max: number): ValueCodec<number> {
  return {
    read: (reader) => reader.readInt(min, max),
    write: (writer, value) => writer.writeInt(value),
    zero: () => 0,
    isEmpty: (value) => value === 0,
  };
}

/** A Go slice of `item` with at most `itemsMax` entries; nil reads as empty, empty writes `0x90`. */
export function arrayCodec<T>(item: ValueCodec<T>, itemsMax: number): ValueCodec<T[]> {
  return {
    read(reader) {
      const count = reader.readArrayHeader();
      if (count > itemsMax) {
        throw new SyntaxError(`Cannot decode array: ${count} items exceed ${itemsMax}`);
      }
      const items: T[] = [];
      for (let i = 0; i < count; i += 1) items.push(readOrZero(reader, item));
      return items;
    },
    write(writer, value) {
      writer.writeArrayHeader(value.length);
      for (const entry of value) item.write(writer, entry);
    },
    zero: () => [],
    isEmpty: (value) => value.length === 0,
  };
}

/** A Go value that may be nil on the wire (a pointer, or a slice whose nil matters). */
export function optionalCodec<T>(inner: ValueCodec<T>): ValueCodec<T | undefined> {
  return {
    read: (reader) => inner.read(reader),
    write: (writer, value) => value === undefined ? writer.writeNil() : inner.write(writer, value),
    zero: () => undefined,
    isEmpty: (value) => value === undefined,
  };
}

/**
 * A Go `map[string]V` with at most `entriesMax` entries. It is a `Map` so that the wire order,
 * which Go randomises, survives a decode and re-encode unchanged.
 */
export function mapCodec<V>(value: ValueCodec<V>, entriesMax: number): ValueCodec<Map<string, V>> {
  return {
    read(reader) {
      const count = reader.readMapHeader();
      if (count > entriesMax) {
        throw new SyntaxError(`Cannot decode map: ${count} entries exceed ${entriesMax}`);
      }
      const entries = new Map<string, V>();
      for (let i = 0; i < count; i += 1) {
        const key = readOrZero(reader, stringCodec);
        entries.set(key, readOrZero(reader, value));
      }
      return entries;
    },
    write(writer, entries) {
      writer.writeMapHeader(entries.size);
      for (const [key, entry] of entries) {
        writer.writeString(key);
        value.write(writer, entry);
      }
    },
    zero: () => new Map(),
    isEmpty: (entries) => entries.size === 0,
  };
}

/** A Go struct, as a msgpack map keyed by Go field names in sorted order. */
export function structCodec<T>(spec: StructSpec<T>): ValueCodec<T> {
  const keys = Object.keys(spec) as Array<keyof T & string>;
  const fields = keys.map((key) => ({ key, ...(spec[key] as FieldSpec<unknown>) }));
  // go-msgpack sorts struct fields by encoded name, comparing bytes; Go names are ASCII.
  fields.sort((a, b) => (a.go < b.go ? -1 : a.go > b.go ? 1 : 0));
  const byGoName = new Map(fields.map((field) => [field.go, field]));
  const zero = (): T => {
    const value: Record<string, unknown> = {};
    for (const field of fields) value[field.key] = field.codec.zero();
    return value as T;
  };
  return {
    read(reader) {
      const value = zero() as Record<string, unknown>;
      const count = reader.readMapHeader();
      for (let i = 0; i < count; i += 1) {
        const field = byGoName.get(readOrZero(reader, stringCodec));
        if (field === undefined) reader.skip();
        else value[field.key] = readOrZero(reader, field.codec);
      }
      return value as T;
    },
    write(writer, value) {
      const record = value as Record<string, unknown>;
      const present = fields.filter((f) => !(f.omitEmpty && f.codec.isEmpty(record[f.key])));
      writer.writeMapHeader(present.length);
      for (const field of present) {
        writer.writeString(field.go);
        field.codec.write(writer, record[field.key]);
      }
    },
    zero,
    isEmpty: () => false,
  };
}
