/**
 * What a store layer reports about its own work, for `EventStoreTelemetry` to turn into
 * metrics: once per group commit and once per data sync, never once per event.
 *
 * A layer makes one probe, hands it to the part that commits, and attaches it to the
 * service object it provides. Nobody listens until `EventStoreTelemetry.layer` finds the
 * probe of the store it decorates and sets the callbacks; until then a layer pays one
 * `undefined` check per group commit, and no clock read.
 *
 * @internal
 */

/** The callbacks of one store; `undefined` while nobody listens. */
export interface StoreProbe {
  /** A group commit is durable: it carried `appends` appends holding `events` events. */
  groupCommitted: ((appends: number, events: number) => void) | undefined
  /** A data sync (`fdatasync`) took `millis` milliseconds. */
  synced: ((millis: number) => void) | undefined
}

/** A probe nobody listens to yet. */
export const make = (): StoreProbe => ({ groupCommitted: undefined, synced: undefined })

const probes = new WeakMap<object, StoreProbe>()

/** Ties `probe` to the service object a layer provides, so that a decorator can find it. */
export const attach = <Service extends object>(service: Service, probe: StoreProbe): Service => {
  probes.set(service, probe)
  return service
}

/** The probe of a store service, if its layer has one (memory and third-party layers do not). */
export const of = (service: object): StoreProbe | undefined => probes.get(service)
