/**
 * Loading a bench-only dependency from `bench/node_modules` by a computed specifier (so
 * the compiler does not look for a package CI does not install), checked at run time
 * against the shape the target declares, or failing with the install instructions.
 */
export const loadBenchPackage = async <A>(
  specifier: string,
  is: (value: unknown) => value is A,
  installHint: string
): Promise<A> => {
  let loaded: unknown
  try {
    loaded = await import(specifier)
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error)
    throw new Error(`${installHint}\n\nLoading ${specifier} failed: ${reason}`)
  }
  if (!is(loaded)) throw new Error(`${specifier} does not export what the bench uses.\n${installHint}`)
  return loaded
}
