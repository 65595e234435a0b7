import { describe, it } from "vitest"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"
import * as StoreConformance from "../../src/testing/StoreConformance.js"
import { freshSchema, postgresSuite } from "./server.js"

postgresSuite("EventStorePostgres", (database) => {
  StoreConformance.register(
    { describe, it },
    "postgres",
    () => EventStorePostgres.layer({ url: database.url(), schema: freshSchema(), maxConnections: 4 }),
    { numRuns: 30 }
  )
})
