// express-session + connect-redis: the usual production setup today.
import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { serveExpressSession } from './serve.js'

const redis = createClient({ url: process.env.REDIS_URL })
await redis.connect()
serveExpressSession(new RedisStore({ client: redis, prefix: process.env.REDIS_PREFIX }))
