import { EventStorePostgres } from "../../src/index.js"
import { conformance } from "../EventStore.conformance.js"
import { modelTest } from "../EventStore.model.js"
import { freshSchema, postgresSuite } from "./server.js"

postgresSuite("EventStorePostgres", (database) => {
  conformance("postgres", () => EventStorePostgres.layer({ url: database.url(), schema: freshSchema(), maxConnections: 4 }))
  modelTest("postgres", () => EventStorePostgres.layer({ url: database.url(), schema: freshSchema(), maxConnections: 2 }), {
    numRuns: 30
  })
})
