// What a login puts in the session, the same for every contender (about 250 bytes of JSON):
// who the user is, and a counter that GET /write increments.
export function profile(n) {
  return {
    userId: `user_${n}`,
    email: `user_${n}@example.com`,
    name: `User Number ${n}`,
    roles: ['reader', 'writer'],
    locale: 'en-GB',
    csrf: 'b6f0c1d2e3a4b5c6d7e8f90a1b2c3d4eb6f0c1d2e3a4b5c6d7e8f90a1b2c3d4e',
    loggedInAt: '2026-01-01T00:00:00.000Z',
  }
}
