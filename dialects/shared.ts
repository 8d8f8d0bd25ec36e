/** Helpers shared by the engine factories. */

/**
 * Loads an optional peer dependency, or explains how to install it. `load` is a literal
 * `import()` so bundlers see it, and the entry that needs the peer is the only one to load it.
 */
export async function optionalPeer<T>(name: string, factory: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (cause) {
    if ((cause as { code?: unknown } | null)?.code !== 'ERR_MODULE_NOT_FOUND') throw cause
    throw new Error(`${factory}(): the optional peer dependency '${name}' is not installed: run npm install ${name}`, {
      cause,
    })
  }
}

export function checkFactoryConfig(factory: string, config: unknown): void {
  if (config === undefined) return
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new TypeError(`${factory}(..., config): config must be an object of Kysely options such as { log }`)
  }
  if ('dialect' in config) {
    throw new TypeError(`${factory}(..., config): config must not contain a dialect; ${factory}() makes its own`)
  }
}
