// The documentation site (VitePress, installed in legs/docs/, not in the root package):
// `npm run docs:build` generates the API reference into docs/api (TypeDoc) and builds the site
// into docs/.vitepress/dist; `npm run docs:dev` serves it with live reload (scripts/docs.mjs).
// This file imports nothing from VitePress, so that it loads from docs/ while VitePress
// itself lives in legs/docs/node_modules.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const REPOSITORY = 'https://github.com/kysely-session-store/kysely-session-store'
const apiSidebarFile = fileURLToPath(new URL('../api/typedoc-sidebar.json', import.meta.url))
const apiSidebar = existsSync(apiSidebarFile) ? JSON.parse(readFileSync(apiSidebarFile, 'utf8')) : []

export default {
  title: 'kysely-session-store',
  description:
    'One SQL session store on Kysely for Postgres, PGlite, SQLite and MySQL/MariaDB, with a session layer and express-session and Fastify adapters.',
  cleanUrls: true,
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: '/favicon.svg' }]],
  lastUpdated: false,
  // A link to a page or a heading that does not exist fails the build.
  ignoreDeadLinks: false,
  srcExclude: ['**/README.md'],
  vite: {
    // The benchmark charts live in bench/report/, outside docs/.
    server: { fs: { allow: [fileURLToPath(new URL('../..', import.meta.url))] } },
  },
  themeConfig: {
    search: { provider: 'local' },
    outline: { level: [2, 3] },
    socialLinks: [{ icon: 'github', link: REPOSITORY }],
    nav: [
      { text: 'Guide', link: '/guide/getting-started' },
      { text: 'Engines', link: '/engines/' },
      { text: 'Sessions', link: '/sessions/session-manager' },
      { text: 'API', link: '/api/' },
    ],
    sidebar: {
      '/api/': [{ text: 'API reference', link: '/api/', items: apiSidebar }],
      '/': [
        {
          text: 'Guide',
          items: [
            { text: 'Getting started', link: '/guide/getting-started' },
            { text: 'The store', link: '/guide/store' },
            { text: 'Errors, retries, time limits', link: '/guide/errors' },
            { text: 'Cleanup', link: '/guide/cleanup' },
            { text: 'Schema and migrations', link: '/guide/schema' },
          ],
        },
        {
          text: 'Engines',
          items: [
            { text: 'Engines and runtimes', link: '/engines/' },
            { text: 'Postgres', link: '/engines/postgres' },
            { text: 'PGlite', link: '/engines/pglite' },
            { text: 'SQLite', link: '/engines/sqlite' },
            { text: 'MySQL and MariaDB', link: '/engines/mysql' },
            { text: 'Cloudflare D1 and Neon', link: '/engines/d1-neon' },
          ],
        },
        {
          text: 'Sessions',
          items: [
            { text: 'SessionManager', link: '/sessions/session-manager' },
            { text: 'Cookies', link: '/sessions/cookies' },
            { text: 'Fetch handlers and Hono', link: '/sessions/fetch-and-hono' },
            { text: 'Logout and concurrency', link: '/sessions/concurrency' },
            { text: 'Per-user sessions', link: '/sessions/per-user' },
          ],
        },
        {
          text: 'Frameworks',
          items: [
            { text: 'express-session', link: '/frameworks/express-session' },
            { text: 'Fastify', link: '/frameworks/fastify' },
            { text: 'Importing from other stores', link: '/frameworks/importing' },
            { text: 'Upgrading', link: '/frameworks/upgrading' },
          ],
        },
        { text: 'Testing with PGlite', link: '/testing' },
        {
          text: 'Operations',
          items: [
            { text: 'Diagnostics and OpenTelemetry', link: '/operations/diagnostics' },
            { text: 'Performance', link: '/operations/performance' },
            { text: 'Reliability and topologies', link: '/operations/reliability' },
          ],
        },
        { text: 'Security', link: '/security' },
        { text: 'API reference', link: '/api/' },
      ],
    },
  },
}
