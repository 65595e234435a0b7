#!/usr/bin/env node
/**
 * The es-kernel command line:
 *
 *   npx es-kernel <command> <store> …          (from an application that installed es-kernel)
 *   npm run es-kernel -- <command> <store> …   (in this repository, from the sources)
 *
 * looks inside an event store — a file store's directory or a `postgres://` URL — beside
 * the processes that write it: `streams`, `read`, `tail`, `stats`, `verify`, `export`,
 * `import` and `projections`. `es-kernel --help` lists them, `es-kernel <command> --help`
 * explains one, and docs/CLI.md has the whole reference and the exit codes.
 *
 * @since 0.1.0
 */
import { main } from "./internal/cli/main.js"

process.exitCode = await main(process.argv.slice(2))
