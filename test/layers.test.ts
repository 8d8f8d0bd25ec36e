// The house's wiring, read from the source: which folder may import which (the layers in
// CONTRIBUTING.md's Layout), and no file that reaches itself through its imports.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { expect, test } from 'vitest'

const root = join(import.meta.dirname, '..')

/** Every layer and the layers it may import from (itself always). */
const allowed: Record<string, string[]> = {
  base: [],
  families: ['base'],
  store: ['base', 'families'],
  session: ['base', 'store'],
  adapters: ['base', 'store', 'session'],
  import: ['base', 'families', 'store'],
  entry: ['base', 'families', 'store', 'session'],
  dialects: ['base', 'families', 'store', 'entry'],
  bin: ['base', 'families', 'store', 'import', 'dialects'],
}

function layerOf(file: string): string {
  if (file === 'src/errors.ts' || file === 'src/validate.ts') return 'base'
  if (file === 'src/index.ts') return 'entry'
  const [top, folder] = file.split('/')
  if (top === 'src' && folder !== undefined && folder in allowed) return folder
  if (top === 'dialects' || top === 'bin') return top
  throw new Error(`${file} is in no layer: add it to test/layers.test.ts and CONTRIBUTING.md's Layout`)
}

function sources(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .map((name) => join(folder, name))
}

/** The files of ours that `file` imports, statically or with `import()`. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8')
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)]
  return specifiers.map((match) =>
    relative(root, resolve(root, dirname(file), match[1]!)).replace(/\.js$/, '.ts'),
  )
}

const files = [...sources('src'), ...sources('dialects'), ...sources('bin')]
const graph = new Map(files.map((file) => [file, importsOf(file)]))

test('every import points down the layers: base, families, store, session, adapters', () => {
  const wrong: string[] = []
  for (const [file, imports] of graph) {
    const from = layerOf(file)
    for (const target of imports) {
      const to = layerOf(target)
      if (to !== from && !allowed[from]!.includes(to))
        wrong.push(`${file} (${from}) imports ${target} (${to})`)
    }
  }
  expect(wrong).toEqual([])
  // The matrix sees the files it rules on: a parser that found no imports would pass it.
  expect(graph.get('src/session/manager.ts')).toContain('src/store/store.ts')
  expect(graph.get('src/adapters/express.ts')).toContain('src/adapters/callback-store.ts')
})

test('no file reaches itself through its imports', () => {
  const circles: string[] = []
  const done = new Set<string>()
  const visit = (file: string, path: string[]) => {
    const at = path.indexOf(file)
    if (at >= 0) return void circles.push([...path.slice(at), file].join(' -> '))
    if (done.has(file)) return
    for (const target of graph.get(file) ?? []) visit(target, [...path, file])
    done.add(file)
  }
  for (const file of graph.keys()) visit(file, [])
  expect(circles).toEqual([])
})
