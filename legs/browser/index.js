// What the tests use from this leg; the imports resolve from this folder.
export { chromium } from 'playwright-core'
