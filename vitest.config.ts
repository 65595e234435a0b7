import { defineConfig } from "vitest/config"

export default defineConfig({
  // The package's own tests and examples import "es-kernel" by name; tsconfig.json's paths
  // send those imports to src/, as they do for tsc and tsx, so no build is needed to test.
  resolve: { tsconfigPaths: true },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
