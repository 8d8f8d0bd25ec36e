// The types of index.js, resolved from this folder as its imports are.
export { chromium, type Browser, type Page } from 'playwright-core'
