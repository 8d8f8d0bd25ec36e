// Preloaded by bench/http/profile.ts only (`node --import ./profile-on-signal.js app.js`), not
// part of the apps: the first SIGUSR2 starts V8's CPU profiler, the second stops it, writes the
// profile to PROFILE_FILE and prints `profile written`, so the profile covers only the measured
// load (not the start-up, the logins or the warm-up).
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'

const file = process.env.PROFILE_FILE
const session = new Session()
session.connect()
let running = false
process.on('SIGUSR2', () => {
  if (!running) {
    running = true
    session.post('Profiler.enable', () =>
      session.post('Profiler.setSamplingInterval', { interval: 100 }, () =>
        session.post('Profiler.start', () => console.log('profile started')),
      ),
    )
    return
  }
  running = false
  session.post('Profiler.stop', (error, result) => {
    if (error) throw error
    writeFileSync(file, JSON.stringify(result.profile))
    console.log('profile written')
  })
})
