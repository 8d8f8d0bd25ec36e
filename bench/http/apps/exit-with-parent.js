// Preloaded into every benchmark app (`node --import ./exit-with-parent.js app.js`), not part of
// the apps: the app ends when the harness that started it goes away, even if the harness was
// killed and could not stop it. The harness holds the app's stdin open; end of stdin = exit.
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
process.stdin.resume()
