/**
 * The payload port behind `EventCodec` and `Upcaster`: one event payload's decoder and
 * encoder, whatever library wrote them. io-ts and Effect Schema are adapted here, once, so
 * the public modules never see either library's error types.
 *
 * Internal: not part of the public API.
 */
import { Result, Schema } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import type * as t from "io-ts"

/** Human-readable reasons a payload was refused, one per problem. */
export type Issues = ReadonlyArray<string>

/** Turns a stored (JSON) payload into a typed value, or says why it cannot. */
export interface PayloadDecoder<A> {
  readonly decode: (payload: unknown) => Either.Either<Issues, A>
}

/**
 * A payload's decoder and encoder. `encode` takes `unknown` and checks the value itself:
 * it is the last guard before bytes are written forever, and checking lets a registry of
 * codecs for different payloads share one type without casts.
 */
export interface PayloadCodec<A> extends PayloadDecoder<A> {
  readonly encode: (value: unknown) => Either.Either<Issues, unknown>
}

/** A short rendering of a value for an error message; never throws. */
export const show = (value: unknown): string => {
  let text: string
  try {
    text = value === undefined ? "undefined" : JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text
}

const ioTsIssue = (error: t.ValidationError): string => {
  const path = error.context
    .map((entry) => entry.key)
    .filter((key) => key !== "")
    .join(".")
  const expected = error.context[error.context.length - 1]?.type.name ?? "a valid value"
  const where = path === "" ? "the payload" : path
  return error.message ?? `${where}: expected ${expected}, got ${show(error.value)}`
}

/** Adapts an io-ts decoder (any `t.Decoder<unknown, A>`, codecs included). */
export const fromIoTsDecoder = <A>(decoder: t.Decoder<unknown, A>): PayloadDecoder<A> => ({
  decode: (payload) => Either.mapLeft((errors: t.Errors): Issues => errors.map(ioTsIssue))(decoder.decode(payload))
})

/**
 * Adapts an io-ts codec. io-ts encoders are total and unchecked, so `encode` first asks the
 * codec's own guard whether the value belongs to it: a value from untyped code would
 * otherwise be written in a shape that can never be read back.
 */
export const fromIoTs = <A, O>(codec: t.Type<A, O, unknown>): PayloadCodec<A> => ({
  ...fromIoTsDecoder(codec),
  encode: (value) =>
    codec.is(value) ? Either.right(codec.encode(value)) : Either.left([`expected ${codec.name}, got ${show(value)}`])
})

const schemaIssues = (error: Schema.SchemaError): Issues => error.message.split("\n").filter((line) => line !== "")

/**
 * An Effect Schema that needs no services to decode or encode — the only kind a pure
 * codec can run.
 */
export type PureSchema = Schema.Codec<unknown, unknown, never, never>

/** Adapts an Effect Schema decoder. */
export const fromSchemaDecoder = <S extends PureSchema>(schema: S): PayloadDecoder<S["Type"]> => {
  const decode = Schema.decodeUnknownResult(schema)
  return {
    decode: (payload) => {
      const result = decode(payload)
      return Result.isSuccess(result) ? Either.right(result.success) : Either.left(schemaIssues(result.failure))
    }
  }
}

/** Adapts an Effect Schema codec; its encoder validates, so it may refuse a value. */
export const fromSchema = <S extends PureSchema>(schema: S): PayloadCodec<S["Type"]> => {
  const encode = Schema.encodeUnknownResult(schema)
  return {
    ...fromSchemaDecoder(schema),
    encode: (value) => {
      const result = encode(value)
      return Result.isSuccess(result) ? Either.right(result.success) : Either.left(schemaIssues(result.failure))
    }
  }
}
