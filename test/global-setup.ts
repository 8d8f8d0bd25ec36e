// A fresh PGlite runs initdb: about 3 s and hundreds of MiB each time. Once per test run, the
// package's own fixture writes a fresh data directory image (createPGliteTemplate); each test
// process opens its one PGlite from it (about 0.5 s), and each suite gets a schema on it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { createPGliteTemplate } from '../dialects/pglite-testing.js'

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string
  }
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'kss-template-'))
  project.provide('pgliteTemplate', await createPGliteTemplate(join(dir, 'pglite.tar')))
  return () => rmSync(dir, { recursive: true, force: true })
}
