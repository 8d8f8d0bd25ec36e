// Checks the code and the links a user reads: every ```ts block of the Markdown (README.md,
// CONTRIBUTING.md and the documentation site, docs/**/*.md) and every ```ts block in a TSDoc
// comment (`@example`) of src/**/*.ts and dialects/*.ts is type-checked against the BUILT
// package, so that an example that stops compiling fails `npm run typecheck`; every ```js
// block of the Markdown is parsed as an ES module (`node --check`); and every link of the
// Markdown to a file, a page or a heading of this repository must resolve.
//
//   npx tsx scripts/check-examples.ts [--no-build] [--keep]
//
// How a block is read:
// - Markdown: a ```ts block is a whole program a user can paste: its own imports, no free
//   names, nothing added. A block whose fence is preceded by the line `<!-- fragment -->`
//   (blank lines between are allowed; the comment does not show on a rendered page) is a
//   fragment. docs/api/ is left out: TypeDoc generates it from the TSDoc checked here.
// - TSDoc: every ```ts block inside a /** */ comment is a fragment.
// - A block that holds only comments fails: an example shows the call as code.
// - A fragment is wrapped: the checker adds an import for each name the package exports
//   (KyselyStore, migrate, SessionManager, postgres, sqlite, ...) that the block uses without
//   importing or declaring it, and sees the free names of FREE_NAMES below (db, store, token,
//   ...), declared globally. Names the block declares itself shadow them.
//
// Each block is written as its own module, in its own TypeScript project, into a temporary
// directory .examples/run-* (git-ignored, removed afterwards unless --keep), and all of them
// are checked by one `tsc -b` with `strict` (module nodenext, top-level await allowed). One
// project per block means one block's imports cannot make another compile (express-session's
// types, once imported, add `session` to every Express Request of their program).
// `kysely-session-store` and its subpaths resolve through the package's own `exports` to
// dist/, which this script builds first (`npm run build`; --no-build skips it).
//
// Each failing block is reported with its file and line and the compiler's messages, and the
// exit code is 1. scripts/check-examples.allow.json lists blocks known to fail, each with its
// reason: `file` and `line` (one line of the block, trimmed, as written: the line that fails
// is a good choice) name the block; such a block is still compiled, its failure is printed as
// allow-listed and does not fail the run, and an entry whose block compiles or that matches
// no block is printed as stale (remove it).
//
// Links: a relative link of a Markdown file must name a file or folder of the repository; on
// the site (docs/), a link to `/guide/store` or `./store` must name a page (`store.md` or
// `store/index.md`). A `#heading` part must name a heading of the target page, slugged as the
// page is rendered: as VitePress does for docs/, as GitHub does elsewhere. Links into docs/api/
// are checked only when it has been generated (`npm run docs:build`); the site's browser test
// (test/docs.test.ts) checks them on the built site.
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const PACKAGE_NAME = 'kysely-session-store'
const FRAGMENT_MARKER = '<!-- fragment -->'
const ALLOW_FILE = 'scripts/check-examples.allow.json'
const CHILD_TIMEOUT = 180_000

/** The free names a fragment may use without declaring them, and their types. */
const FREE_NAMES: Record<string, string> = {
  db: "import('kysely').Kysely<any>",
  store: "import('kysely-session-store').KyselyStore",
  token: 'string',
  data: 'Uint8Array',
  expiry: 'Date',
  sessions: "import('kysely-session-store').SessionManager",
  session: "import('kysely-session-store').Session",
  app: "import('express').Express",
  request: 'Request',
  response: 'Response',
  pool: "import('pg').Pool",
  secret: 'string',
}

const COMPILER_OPTIONS = {
  composite: true,
  noEmit: true,
  strict: true,
  target: 'es2022',
  lib: ['es2024', 'esnext.disposable'],
  module: 'nodenext',
  moduleResolution: 'nodenext',
  types: ['node'],
  skipLibCheck: true,
}

interface Block {
  /** File relative to the project, e.g. `README.md`. */
  file: string
  /** 1-based line of the block's first line of code in `file`. */
  line: number
  fragment: boolean
  /** The code, its indentation or ` * ` prefix removed. */
  lines: string[]
  /** Per line, how many characters were removed in front of it (for columns). */
  prefixes: number[]
}

interface AllowEntry {
  file: string
  line: string
  reason: string
}

const { values: flags } = parseArgs({
  options: { 'no-build': { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } },
})

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: CHILD_TIMEOUT })
  if (result.error) throw result.error
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

// --- extraction ---------------------------------------------------------------------------

/** The Markdown a user reads: README.md, CONTRIBUTING.md, SECURITY.md, and the site's pages (not docs/api/). */
function markdownFiles(): string[] {
  const files = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md'].filter((file) => existsSync(join(ROOT, file)))
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && path !== 'docs/api' && entry.name !== 'node_modules') walk(path)
      } else if (entry.name.endsWith('.md')) files.push(path)
    }
  }
  if (existsSync(join(ROOT, 'docs'))) walk('docs')
  return files.sort((a, b) => (a === 'README.md' ? -1 : b === 'README.md' ? 1 : a.localeCompare(b)))
}

/** The ```ts blocks (or, with `language: 'js'`, the ```js blocks) of a Markdown file. */
function markdownBlocks(file: string, language: 'ts' | 'js' = 'ts'): Block[] {
  const text = readFileSync(join(ROOT, file), 'utf8').split('\n')
  const blocks: Block[] = []
  const fence = new RegExp(`^(\\s*)\`\`\`${language}\\s*$`)
  for (let i = 0; i < text.length; i++) {
    const open = fence.exec(text[i]!)
    if (!open) continue
    const indent = open[1]!.length
    let previous = i - 1
    while (previous >= 0 && text[previous]!.trim() === '') previous--
    const fragment = previous >= 0 && text[previous]!.trim() === FRAGMENT_MARKER
    const lines: string[] = []
    const prefixes: number[] = []
    let j = i + 1
    for (; j < text.length && !/^\s*```\s*$/.test(text[j]!); j++) {
      const raw = text[j]!
      const strip = Math.min(indent, raw.length - raw.trimStart().length)
      lines.push(raw.slice(strip))
      prefixes.push(strip)
    }
    blocks.push({ file, line: i + 2, fragment, lines, prefixes })
    i = j
  }
  return blocks
}

function tsdocBlocks(file: string): Block[] {
  const text = readFileSync(join(ROOT, file), 'utf8').split('\n')
  const blocks: Block[] = []
  let inDoc = false
  for (let i = 0; i < text.length; i++) {
    const line = text[i]!
    if (!inDoc) {
      if (/^\s*\/\*\*/.test(line) && !line.includes('*/')) inDoc = true
      continue
    }
    if (line.includes('*/')) {
      inDoc = false
      continue
    }
    if (!/^\s*\*\s?```ts\s*$/.test(line)) continue
    const lines: string[] = []
    const prefixes: number[] = []
    let j = i + 1
    for (; j < text.length && !text[j]!.includes('*/'); j++) {
      const prefix = /^\s*\* ?/.exec(text[j]!)?.[0] ?? ''
      const code = text[j]!.slice(prefix.length)
      if (/^```\s*$/.test(code)) break
      lines.push(code)
      prefixes.push(prefix.length)
    }
    blocks.push({ file, line: i + 2, fragment: true, lines, prefixes })
    i = j
  }
  return blocks
}

function sourceFiles(dir: string): string[] {
  const files: string[] = []
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`
    if (entry.isDirectory()) files.push(...sourceFiles(path))
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path)
  }
  return files.sort()
}

// --- what the package exports -------------------------------------------------------------

/** Every name each entry point of the built package exports, first entry point first. */
function packageExports(): Map<string, string> {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, string | { types?: string }>
  }
  const names = new Map<string, string>()
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (typeof target === 'string' || target.types === undefined || subpath.includes('*')) continue
    const specifier = subpath === '.' ? PACKAGE_NAME : `${PACKAGE_NAME}/${subpath.slice(2)}`
    const declarations = readFileSync(join(ROOT, target.types), 'utf8')
    const found: string[] = []
    const declared =
      /^export\s+(?:declare\s+)?(?:abstract\s+)?(?:class|function|const|let|var|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/gm
    for (const match of declarations.matchAll(declared)) found.push(match[1]!)
    for (const match of declarations.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) {
      found.push(...listedNames(match[1]!))
    }
    for (const name of found) if (!names.has(name)) names.set(name, specifier)
  }
  return names
}

// --- wrapping fragments -------------------------------------------------------------------

/** The code with comments and string contents blanked, so that only code names remain. */
function codeOnly(source: string): string {
  let out = ''
  let i = 0
  const templateDepth: number[] = []
  let braces = 0
  while (i < source.length) {
    const c = source[i]!
    const next = source[i + 1]
    if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') i++
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2)
      i = end === -1 ? source.length : end + 2
      out += ' '
    } else if (c === "'" || c === '"') {
      i++
      while (i < source.length && source[i] !== c && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1
      i++
      out += `${c}${c}`
    } else if (c === '`' || (c === '}' && templateDepth.at(-1) === braces)) {
      if (c === '}') templateDepth.pop()
      i++
      while (i < source.length && source[i] !== '`' && !(source[i] === '$' && source[i + 1] === '{')) {
        i += source[i] === '\\' ? 2 : 1
      }
      if (source[i] === '$') {
        templateDepth.push(braces)
        i += 2
      } else i++
      out += '``'
    } else {
      if (c === '{') braces++
      if (c === '}') braces--
      out += c
      i++
    }
  }
  return out
}

/** Names the block binds itself: imports and top-level-looking declarations. */
function boundNames(code: string): Set<string> {
  const bound = new Set<string>()
  for (const match of code.matchAll(/\bimport\s+(?:type\s+)?([\s\S]*?)\s+from\s*['"]/g)) {
    const clause = match[1]!
    const named = /\{([^}]*)\}/.exec(clause)?.[1] ?? ''
    for (const name of listedNames(named)) bound.add(name)
    const rest = clause.replace(/\{[^}]*\}/, '')
    for (const name of rest.match(/[A-Za-z_$][\w$]*/g) ?? []) if (name !== 'as') bound.add(name)
  }
  const declared = /\b(?:const|let|var|using|function|class|interface|type|enum)\s+([A-Za-z_$][\w$]*)/g
  for (const match of code.matchAll(declared)) bound.add(match[1]!)
  return bound
}

/** The import lines a fragment needs: one per entry point, for the exported names it uses. */
function importsFor(block: Block, exported: Map<string, string>): string[] {
  const source = block.lines.join('\n')
  const code = codeOnly(source)
  const bound = boundNames(source)
  const needed = new Map<string, string[]>()
  for (const [name, specifier] of exported) {
    if (bound.has(name)) continue
    if (!new RegExp(`(?<![\\w$.])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(code)) continue
    needed.set(specifier, [...(needed.get(specifier) ?? []), name])
  }
  return [...needed].map(([specifier, names]) => `import { ${names.join(', ')} } from '${specifier}'`)
}

function freeNamesDeclarations(): string {
  const lines = Object.entries(FREE_NAMES).map(([name, type]) => `  const ${name}: ${type}`)
  return `// The free names a fragment may use (scripts/check-examples.ts).\nexport {}\ndeclare global {\n${lines.join('\n')}\n}\n`
}

// --- compiling and reporting ---------------------------------------------------------------

interface Diagnostic {
  line: number
  column: number
  code: string
  message: string
}

/** A block with no code: it cannot show how to call anything, and nothing checks its claims. */
const COMMENT_ONLY: Diagnostic = {
  line: 0,
  column: 1,
  code: 'no-code',
  message: 'the example is only comments (or empty): show the call as code',
}

function main(): number {
  if (!flags['no-build']) {
    const build = run('npm', ['run', 'build', '--silent'])
    if (build.status !== 0) {
      process.stderr.write(build.output)
      console.error('check-examples: npm run build failed')
      return 1
    }
  }
  const exported = packageExports()
  const markdown = markdownFiles()
  const brokenLinks = markdown.flatMap((file) => checkLinks(file))
  for (const broken of brokenLinks) console.log(broken)
  const scripts = markdown.flatMap((file) => markdownBlocks(file, 'js'))
  const unparsed = checkScripts(scripts)
  const blocks = [
    ...markdown.flatMap((file) => markdownBlocks(file)),
    ...[...sourceFiles('src'), ...sourceFiles('dialects')].flatMap((file) => tsdocBlocks(file)),
  ]
  const allow = existsSync(join(ROOT, ALLOW_FILE))
    ? (JSON.parse(readFileSync(join(ROOT, ALLOW_FILE), 'utf8')) as AllowEntry[])
    : []

  mkdirSync(join(ROOT, '.examples'), { recursive: true })
  const dir = mkdtempSync(join(ROOT, '.examples', 'run-'))
  try {
    writeFileSync(join(dir, 'free-names.d.ts'), freeNamesDeclarations())
    writeFileSync(join(dir, 'tsconfig.base.json'), JSON.stringify({ compilerOptions: COMPILER_OPTIONS }))
    const headers: number[] = []
    blocks.forEach((block, index) => {
      const header = block.fragment ? importsFor(block, exported) : []
      headers.push(header.length)
      const project = join(dir, `b${index}`)
      mkdirSync(project)
      writeFileSync(join(project, 'block.ts'), [...header, ...block.lines, ''].join('\n'))
      const files = block.fragment ? ['block.ts', '../free-names.d.ts'] : ['block.ts']
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({ extends: '../tsconfig.base.json', files }),
      )
    })
    const references = blocks.map((_, index) => ({ path: `b${index}` }))
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ files: [], references }))

    const tsc = join(ROOT, 'node_modules', '.bin', 'tsc')
    const result = run(tsc, ['-b', relative(ROOT, dir), '--pretty', 'false'])
    const byBlock = new Map<number, Diagnostic[]>()
    const other: string[] = []
    let last: Diagnostic | undefined
    for (const line of result.output.split('\n')) {
      const match = /^(.*?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line)
      const index = match ? /[\\/]b(\d+)[\\/]block\.ts$/.exec(match[1]!)?.[1] : undefined
      if (match && index !== undefined) {
        last = { line: Number(match[2]), column: Number(match[3]), code: match[4]!, message: match[5]! }
        byBlock.set(Number(index), [...(byBlock.get(Number(index)) ?? []), last])
      } else if (last && /^\s+\S/.test(line)) {
        last.message += `\n${line}`
      } else if (line.trim() !== '') {
        last = undefined
        other.push(line)
      }
    }
    if (result.status !== 0 && byBlock.size === 0) {
      console.error(`check-examples: tsc -b failed without a diagnostic of a block:\n${result.output}`)
      return 1
    }

    let failed = 0
    let allowed = 0
    const usedAllow = new Set<AllowEntry>()
    blocks.forEach((block, index) => {
      const where = `${block.file}:${block.line}`
      const entry = allow.find((a) => a.file === block.file && block.lines.some((l) => l.trim() === a.line))
      const diagnostics = codeOnly(block.lines.join('\n')).trim() === '' ? [COMMENT_ONLY] : byBlock.get(index)
      if (entry) usedAllow.add(entry)
      if (!diagnostics) {
        if (entry) console.log(`stale allow-list entry: ${where} now compiles; remove it from ${ALLOW_FILE}`)
        return
      }
      if (entry) {
        allowed++
        console.log(`allow-listed, not counted: ${where} (${entry.reason})`)
        return
      }
      failed++
      const kind = block.fragment ? 'fragment' : 'whole program'
      console.log(`\n${where}: this ${kind} does not compile`)
      for (const d of diagnostics) {
        const offset = d.line - 1 - headers[index]!
        const inBlock = offset >= 0 && offset < block.lines.length
        const line = inBlock ? block.line + offset : block.line
        const column = inBlock ? d.column + block.prefixes[offset]! : 1
        const code = inBlock
          ? block.lines[offset]!.trim()
          : d === COMMENT_ONLY
            ? ''
            : '(an import the checker added)'
        console.log(
          `  ${block.file}:${line}:${column} ${d.code} ${d.message}${code ? `\n    > ${code}` : ''}`,
        )
      }
    })
    for (const entry of allow) {
      if (!usedAllow.has(entry)) {
        console.log(
          `stale allow-list entry: no block of ${entry.file} has the line ${JSON.stringify(entry.line)}`,
        )
      }
    }
    if (other.length > 0) console.log(other.join('\n'))
    const readme = blocks.filter((b) => b.file === 'README.md').length
    const site = blocks.filter((b) => b.file.endsWith('.md')).length - readme
    console.log(
      `\ncheck-examples: ${blocks.length} ts blocks (${readme} README, ${site} other Markdown, ` +
        `${blocks.length - readme - site} TSDoc), ${failed} failed, ${allowed} allow-listed; ` +
        `${scripts.length} js blocks, ${unparsed} failed to parse; ` +
        `links of ${markdown.length} Markdown files, ${brokenLinks.length} broken`,
    )
    return failed > 0 || unparsed > 0 || brokenLinks.length > 0 ? 1 : 0
  } finally {
    if (!flags.keep) {
      rmSync(dir, { recursive: true, force: true })
      rmdirQuietly(join(ROOT, '.examples')) // only when empty: another run may be using it
    } else console.log(`kept ${relative(ROOT, dir)}`)
  }
}

// --- js blocks ----------------------------------------------------------------------------

/** Parses each ```js block as an ES module (`node --check`); prints and counts the failures. */
function checkScripts(scripts: Block[]): number {
  if (scripts.length === 0) return 0
  mkdirSync(join(ROOT, '.examples'), { recursive: true })
  const dir = mkdtempSync(join(ROOT, '.examples', 'js-'))
  let failed = 0
  try {
    scripts.forEach((block, index) => {
      const path = join(dir, `b${index}.mjs`)
      writeFileSync(path, `${block.lines.join('\n')}\n`)
      const result = run(process.execPath, ['--check', path])
      if (result.status === 0) return
      failed++
      const line = /b\d+\.mjs:(\d+)/.exec(result.output)?.[1]
      const where = `${block.file}:${line === undefined ? block.line : block.line + Number(line) - 1}`
      const message = result.output.split('\n').find((l) => /Error/.test(l)) ?? result.output.trim()
      console.log(`\n${where}: this js block does not parse\n  ${message}`)
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
    rmdirQuietly(join(ROOT, '.examples'))
  }
  return failed
}

// --- links --------------------------------------------------------------------------------

/** A heading's anchor as VitePress makes it (its slugify, from @mdit-vue/shared). */
function vitepressSlug(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036F]/g, '')
    .replace(/[\u0000-\u001f]/g, '')
    .replace(/[\s~`!@#$%^&*()\-_+=[\]{}|\\;:"'“”‘’<>,.?/]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .replace(/^(\d)/, '_$1')
    .toLowerCase()
}

/** A heading's anchor as GitHub makes it. */
function githubSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-')
}

/** The lines of a Markdown file outside its code fences (fenced lines become empty). */
function proseLines(file: string): string[] {
  let fenced = false
  return readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced
        return ''
      }
      return fenced ? '' : line
    })
}

const anchorCache = new Map<string, Set<string>>()

/** The anchors of a Markdown file's headings, as its renderer makes them (duplicates numbered). */
function anchorsOf(file: string): Set<string> {
  const cached = anchorCache.get(file)
  if (cached) return cached
  const slug = file.startsWith('docs/') ? vitepressSlug : githubSlug
  const anchors = new Set<string>()
  for (const line of proseLines(file)) {
    const heading = /^#{1,6}\s+(.*?)\s*$/.exec(line)?.[1]
    if (heading === undefined) continue
    const custom = /\s*\{#([\w-]+)\}$/.exec(heading)
    if (custom) {
      anchors.add(custom[1]!)
      continue
    }
    const text = heading
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/[`*]/g, '')
    const base = slug(text)
    let anchor = base
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`
    anchors.add(anchor)
  }
  for (const line of proseLines(file)) {
    for (const match of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]!)
  }
  anchorCache.set(file, anchors)
  return anchors
}

/** The file a link of `file` names: on the site, a page; elsewhere, a file or folder. */
function linkTarget(file: string, path: string): string | undefined {
  const site = file.startsWith('docs/')
  const joined = path.startsWith('/') && site ? `docs${path}` : join(dirname(file), path)
  const base = joined.replace(/\/$/, '')
  const candidates = site ? [joined, `${base}.md`, `${base}/index.md`] : [joined]
  return candidates.find((candidate) => candidate !== '' && existsSync(join(ROOT, candidate)))
}

/** Each link of a Markdown file to this repository that names nothing: `file:line: message`. */
function checkLinks(file: string): string[] {
  const broken: string[] = []
  const apiGenerated = existsSync(join(ROOT, 'docs', 'api', 'index.md'))
  proseLines(file).forEach((line, index) => {
    const prose = line.replace(/`[^`]*`/g, '``')
    const links = [
      ...[...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!),
      ...[...prose.matchAll(/\b(?:href|src)="([^"]+)"/g)].map((m) => m[1]!),
    ]
    for (const link of links) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue // https:, mailto:
      const [path = '', anchor] = link.split('#') as [string, string | undefined]
      const where = `${file}:${index + 1}: the link ${link}`
      if (
        file.startsWith('docs/') &&
        /^(\.\.\/)*(\/)?api(\/|$)/.test(path.replace(/^\.\//, '')) &&
        !apiGenerated
      ) {
        continue // generated by npm run docs:build; test/docs.test.ts checks it on the built site
      }
      const target = path === '' ? file : linkTarget(file, decodeURI(path))
      if (target === undefined) {
        broken.push(`${where} names no ${file.startsWith('docs/') ? 'page or file' : 'file'}`)
      } else if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(target).has(anchor)) {
        broken.push(`${where}: ${target} has no heading #${anchor}`)
      }
    }
  })
  return broken
}

function rmdirQuietly(path: string): void {
  try {
    rmdirSync(path)
  } catch {
    // not empty, or already gone
  }
}

/** The local names a `{ a, type B, c as d }` list binds (without the braces): a, B, d. */
function listedNames(list: string): string[] {
  return list
    .split(',')
    .map((part) =>
      part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()!
        .trim(),
    )
    .filter((name) => name !== '')
}

process.exitCode = main()
