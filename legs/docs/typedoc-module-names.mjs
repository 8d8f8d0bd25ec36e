// Names each module of the API reference by the specifier a user imports it with
// (kysely-session-store/postgres), instead of its path in this repository (dialects/postgres).
import { Converter, ReflectionKind } from 'typedoc'

const NAMES = {
  src: 'kysely-session-store',
  'src/adapters/express': 'kysely-session-store/express',
  'src/adapters/fastify': 'kysely-session-store/fastify',
  'src/import': 'kysely-session-store/import',
  'dialects/postgres': 'kysely-session-store/postgres',
  'dialects/pglite': 'kysely-session-store/pglite',
  'dialects/sqlite': 'kysely-session-store/sqlite',
  'dialects/mysql': 'kysely-session-store/mysql',
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      const name = NAMES[module.name]
      if (name === undefined) {
        app.logger.error(`typedoc-module-names.mjs: no import specifier for the module "${module.name}"`)
      } else module.name = name
    }
  })
}
