/**
 * The durable-end feed: how the writer tells read-only stores in other processes how far
 * its log is durable, over its lock socket.
 *
 * A read-only store connects to the writer's claim (`lock.ts`) and sends `follow\n`; the
 * writer answers at once with its durable end and again after every flush, one line each:
 * `<segment> <offset> <position>\n` (every segment before `segment` is durable whole,
 * `segment` up to byte `offset`, and the last durable event is at `position`). The reader
 * reads the log up to there and never further, so it sees exactly what the writer has
 * acknowledged (on a `sync: "durable"` store: what a power loss cannot take back).
 *
 * Cost to the writer: with no reader connected, one call per flush over an empty set.
 * A slow reader never makes the writer buffer: while a connection's send buffer is full
 * only the latest end is kept, and sent when it drains.
 *
 * @internal
 */
import type * as net from "node:net"
import type { DurableEnd } from "./writer.js"

/** What a reader sends to ask for the feed. @internal */
export const followRequest = "follow\n"

/** One line of the feed. @internal */
export const encodeEnd = ({ segment, offset, position }: DurableEnd): string => `${segment} ${offset} ${position}\n`

const endPattern = /^(\d{1,15}) (\d{1,15}) (\d{1,16})$/

/** A line of the feed (without its newline), or `undefined` when it is not one. @internal */
export const decodeEnd = (line: string): DurableEnd | undefined => {
  const match = endPattern.exec(line)
  if (match?.[1] === undefined || match[2] === undefined || match[3] === undefined) return undefined
  return { segment: Number(match[1]), offset: Number(match[2]), position: Number(match[3]) }
}

interface Follower {
  readonly connection: net.Socket
  // The line last handed to the socket, and whether the socket's buffer is full.
  sent: string
  blocked: boolean
}

/**
 * The writer's side: the connections that asked to follow, and the end to tell them.
 *
 * @internal
 */
export class DurableFeed {
  private readonly followers = new Set<Follower>()
  private source: (() => DurableEnd) | undefined = undefined

  /** The lock's visitor: a connection that sends the follow request joins the feed. */
  readonly accept = (connection: net.Socket): void => {
    let request = ""
    connection.on("error", () => connection.destroy())
    const onData = (data: Buffer): void => {
      request += data.toString("latin1")
      if (request.length < followRequest.length && followRequest.startsWith(request)) return
      connection.off("data", onData)
      if (request !== followRequest) return void connection.destroy()
      const follower: Follower = { connection, sent: "", blocked: false }
      this.followers.add(follower)
      connection.once("close", () => this.followers.delete(follower))
      connection.on("drain", () => {
        follower.blocked = false
        this.send(follower)
      })
      this.send(follower)
    }
    connection.on("data", onData)
  }

  /** Starts telling followers the ends `source` gives (once the writer is open). */
  attach(source: () => DurableEnd): void {
    this.source = source
    this.publish()
  }

  /** Tells every follower the current end. */
  readonly publish = (): void => {
    for (const follower of this.followers) this.send(follower)
  }

  private send(follower: Follower): void {
    if (this.source === undefined || follower.blocked) return
    const line = encodeEnd(this.source())
    if (line === follower.sent) return
    follower.sent = line
    follower.blocked = !follower.connection.write(line)
  }
}
