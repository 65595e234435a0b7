/**
 * es-kernel: pure deciders, typed events, and event stores as Effect services.
 *
 * @since 0.1.0
 */
export * as CheckpointStore from "./CheckpointStore.js"
export * as CommandHandler from "./CommandHandler.js"
export * as Decider from "./Decider.js"
export * as EventCodec from "./EventCodec.js"
export * as EventStore from "./EventStore.js"
export * as EventStoreFile from "./EventStoreFile.js"
export * as EventStoreMemory from "./EventStoreMemory.js"
export * as EventStoreTelemetry from "./EventStoreTelemetry.js"
export * as ProcessManager from "./ProcessManager.js"
export * as Projection from "./Projection.js"
export * as Projector from "./Projector.js"
export * as Snapshot from "./Snapshot.js"
export * as SnapshotStore from "./SnapshotStore.js"
export * as Upcaster from "./Upcaster.js"
export * as View from "./View.js"
