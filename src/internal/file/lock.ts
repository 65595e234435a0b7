/**
 * The writer lock: a unix-domain socket listening in the store directory.
 *
 * Why a socket: the operating system closes a process's sockets when it exits, however it
 * exits, so "is the holder still there?" is answered by the kernel (`connect` succeeds or
 * is refused) rather than guessed from a pid. A pid cannot tell a live holder from a
 * recycled pid, from the opener itself restarted under the same pid (PID 1 in a
 * container), from a zombie, or from a holder in another pid namespace sharing the
 * volume; a socket can. A lock file a crash or power loss left behind (a socket nobody
 * listens on, an empty or garbage file) is refused by `connect` and simply removed.
 *
 * The protocol, with no file ever deleted while its owner holds it:
 * 1. Sweep: every `LOCK*` entry is probed; the dead ones are removed; a live claim means
 *    the store is held (by the pid and since the time its name records).
 * 2. Publish a claim: listen on a private `LOCK.<pid>.<since>.<token>.tmp`, then rename it
 *    to its claim name, so a visible claim is always listening (a sweep never sees the
 *    moment between `bind` and `listen` under a claim name).
 * 3. Sweep again: if another claim is alive, two openers raced; both withdraw and retry
 *    after a random pause. Safe because whichever published second sees the first.
 *
 * Releasing unlinks the claim and closes the socket, neither of which needs a new file
 * descriptor, so a store that failed to open for want of descriptors still lets go.
 *
 * Limits: the directory must be on a file system that can hold unix sockets (local
 * ones; not every network or FUSE mount), and on macOS a claim's path must fit in a
 * socket address (104 bytes), so the directory's path must stay under about 70 bytes.
 * On Linux a longer path is reached through the directory's descriptor. (Node's
 * `listen` would silently cut a long path short and bind somewhere else.)
 *
 * @internal
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as path from "node:path"

/** The process holding a lock, as its claim's name records it. @internal */
export interface LockHolder {
  readonly pid: number
  readonly since: Date
}

/** @internal */
export type LockResult =
  | { readonly _tag: "Acquired"; readonly release: () => Promise<void> }
  | { readonly _tag: "Held"; readonly holder: LockHolder }

/** Every name the lock ever used: claims, their temporaries, and older versions' files. */
const isLockEntry = (name: string): boolean => name === "LOCK" || name.startsWith("LOCK.")

const claimPattern = /^LOCK\.(\d+)\.([0-9a-z]+)\.[0-9a-z]+$/

const holderOf = (name: string): LockHolder | undefined => {
  const match = claimPattern.exec(name)
  if (match?.[1] === undefined || match[2] === undefined) return undefined
  return { pid: Number(match[1]), since: new Date(Number.parseInt(match[2], 36)) }
}

const errorCode = (error: unknown): unknown => error instanceof Error ? Reflect.get(error, "code") : undefined

// 104 bytes on macOS, 108 on Linux, including the terminating NUL.
const maxSocketPath = 103

/**
 * Turns an entry name of the directory into a path short enough for a socket address:
 * the plain path if it fits; on Linux, otherwise, the path through the directory's
 * descriptor; elsewhere `undefined` (no socket of ours can have such a name).
 */
const makeAddresser = (directory: string) => {
  let directoryHandle: Promise<fs.FileHandle> | undefined = undefined
  const address = async (name: string): Promise<string | undefined> => {
    const direct = path.join(directory, name)
    if (Buffer.byteLength(direct) <= maxSocketPath) return direct
    if (process.platform !== "linux") return undefined
    directoryHandle ??= fs.open(directory, "r")
    return `/proc/self/fd/${(await directoryHandle).fd}/${name}`
  }
  const close = async (): Promise<void> => {
    await (await directoryHandle?.catch(() => undefined))?.close()
  }
  return { address, close }
}

type Addresser = (name: string) => Promise<string | undefined>

const nobodyListens = new Set(["ECONNREFUSED", "ENOENT", "ENOTSOCK"])
// Failures of this process, not answers about the holder: they fail the open.
const cannotAsk = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"])

/**
 * Whether something listens at `address`. Any answer but a clear "nobody" (a full
 * backlog, a socket we may not connect to) counts as alive.
 */
const isListening = (address: string): Promise<boolean> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ path: address })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", (error) => {
      const code = String(errorCode(error))
      if (cannotAsk.has(code)) reject(error)
      else resolve(!nobodyListens.has(code))
    })
  })

/**
 * Removes every dead lock entry and returns a live claim other than `own`, if any. Live
 * temporaries are openers in the middle of publishing: they will see our claim.
 */
const sweep = async (directory: string, address: Addresser, own?: string): Promise<Sighting | undefined> => {
  let sighting: Sighting | undefined = undefined
  for (const name of (await fs.readdir(directory)).filter(isLockEntry)) {
    if (name === own) continue
    const at = await address(name)
    if (at !== undefined && await isListening(at)) {
      const holder = name.endsWith(".tmp") ? undefined : holderOf(name)
      if (holder !== undefined) sighting ??= { name, holder }
      continue
    }
    // Removed by another sweeper already, or not ours to remove: either way not a holder.
    await fs.unlink(path.join(directory, name)).catch(() => undefined)
  }
  return sighting
}

interface Sighting {
  readonly name: string
  readonly holder: LockHolder
}

interface Claim {
  readonly name: string
  readonly withdraw: () => Promise<void>
}

/**
 * What the holder does with a connection to its claim: a probe by another opener's sweep
 * closes at once; a read-only store asks for the durable end (see `durableFeed.ts`).
 *
 * @internal
 */
export type Visitor = (connection: net.Socket) => void

const turnAway: Visitor = (connection) => connection.destroy()

/** Listens at `address`; resolves with how to stop listening. */
const listen = (address: string, visitor: Visitor): Promise<() => Promise<void>> =>
  new Promise((resolve, reject) => {
    const connections = new Set<net.Socket>()
    const server = net.createServer((connection) => {
      // A connection must not keep the process alive, nor `close` wait for it.
      connection.unref()
      connections.add(connection)
      connection.once("close", () => connections.delete(connection))
      visitor(connection)
    })
    server.once("error", reject)
    server.listen(address, () => {
      server.off("error", reject)
      // The lock must not keep the process alive on its own.
      server.unref()
      // `server.close` waits for the open connections: end them first.
      resolve(() =>
        new Promise<void>((closed) => {
          server.close(() => closed())
          for (const connection of connections) connection.destroy()
        })
      )
    })
  })

/** Listens under a private name, then renames it to the claim; `undefined` if a sweeper removed it first. */
const publish = async (directory: string, address: Addresser, visitor: Visitor): Promise<Claim | undefined> => {
  const name = `LOCK.${process.pid}.${Date.now().toString(36)}.${randomBytes(4).toString("hex")}`
  const temporary = `${name}.tmp`
  const at = await address(temporary)
  if (at === undefined) {
    throw new Error(
      `the path of the store directory ${directory} is too long for its lock socket: ` +
        `a socket address holds ${maxSocketPath} bytes on this platform, keep the directory's path under ${maxSocketPath - temporary.length - 1}`
    )
  }
  const close = await listen(at, visitor).catch(async (error: unknown) => {
    // `bind` may have created the file before `listen` failed.
    await fs.unlink(path.join(directory, temporary)).catch(() => undefined)
    throw error
  })
  const withdraw = async (): Promise<void> => {
    await fs.unlink(path.join(directory, name)).catch(() => undefined)
    await close()
  }
  try {
    await fs.rename(path.join(directory, temporary), path.join(directory, name))
    return { name, withdraw }
  } catch (error) {
    await fs.unlink(path.join(directory, temporary)).catch(() => undefined)
    await close()
    if (errorCode(error) === "ENOENT") return undefined
    throw error
  }
}

const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 45))

// Two openers that keep colliding give up after this many rounds (about a second).
const maxRounds = 40
// After a collision, a claim seen this many rounds in a row is a holder, not a rival
// withdrawing: a withdrawal takes one sweep, a round pauses at least 5 ms.
const settledSightings = 3

/**
 * Takes the lock of `directory`, or names the live process holding it. `visitor` is
 * handed every connection to the claim while it is held.
 *
 * @internal
 */
export const acquireLock = async (directory: string, visitor: Visitor = turnAway): Promise<LockResult> => {
  const { address, close } = makeAddresser(directory)
  try {
    let collided = false
    let seen = { name: "", times: 0 }
    for (let round = 1;; round++) {
      const sighting = await sweep(directory, address)
      if (sighting !== undefined) {
        seen = { name: sighting.name, times: seen.name === sighting.name ? seen.times + 1 : 1 }
        if (!collided || seen.times >= settledSightings || round >= maxRounds) return { _tag: "Held", holder: sighting.holder }
      } else {
        const claim = await publish(directory, address, visitor)
        if (claim !== undefined) {
          // A claim left listening by a failed open would lock this process out for good.
          const rival = await sweep(directory, address, claim.name).catch(async (error: unknown) => {
            await claim.withdraw()
            throw error
          })
          if (rival === undefined) return { _tag: "Acquired", release: claim.withdraw }
          await claim.withdraw()
          if (round >= maxRounds) return { _tag: "Held", holder: rival.holder }
          collided = true
        }
      }
      await pause()
    }
  } finally {
    await close()
  }
}

/**
 * A connection to the live holder of `directory`'s lock, or `undefined` when nobody
 * holds it. Removes nothing: dead claims are left for the next opener's sweep.
 *
 * @internal
 */
export const connectToHolder = async (directory: string): Promise<{ readonly connection: net.Socket; readonly holder: LockHolder } | undefined> => {
  const { address, close } = makeAddresser(directory)
  try {
    for (const name of await fs.readdir(directory)) {
      const holder = holderOf(name)
      const at = holder === undefined ? undefined : await address(name)
      if (holder === undefined || at === undefined) continue
      const connection = await connect(at)
      if (connection !== undefined) return { connection, holder }
    }
    return undefined
  } finally {
    await close()
  }
}

/** A connection to `address`, or `undefined` when nobody listens there. */
const connect = (address: string): Promise<net.Socket | undefined> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ path: address })
    const refused = (error: unknown) => {
      if (cannotAsk.has(String(errorCode(error)))) reject(error)
      else resolve(undefined)
    }
    socket.once("error", refused)
    socket.once("connect", () => {
      socket.off("error", refused)
      resolve(socket)
    })
  })
