/** Helpers shared by the engine factories. */
import { FactoryError } from '../src/errors.js'

/**
 * Thrown on first use of a factory whose driver package is not installed. The store passes
 * its message on, since it names a package, never data.
 *
 * @example
 * ```ts
 * // npm install pg, then: postgres('postgres://localhost/app')
 * ```
 */
export class MissingPeerDependencyError extends FactoryError {
  override readonly name = 'MissingPeerDependencyError'
}

/**
 * Loads an optional peer dependency, or explains how to install it. `load` is a literal
 * `import()` so bundlers see it, and the entry that needs the peer is the only one to load it.
 */
export async function optionalPeer<T>(name: string, factory: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (cause) {
    if ((cause as { code?: unknown } | null)?.code !== 'ERR_MODULE_NOT_FOUND') throw cause
    throw new MissingPeerDependencyError(
      `${factory}(): the optional peer dependency '${name}' is not installed: run npm install ${name}`,
      { cause },
    )
  }
}

export function checkFactoryConfig(factory: string, config: unknown): void {
  if (config === undefined) return
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new TypeError(`${factory}(..., config): config must be an object of Kysely options such as { log }`)
  }
  if ('dialect' in config) {
    throw new TypeError(
      `${factory}(..., config): config must not contain a dialect; ${factory}() makes its own`,
    )
  }
}
