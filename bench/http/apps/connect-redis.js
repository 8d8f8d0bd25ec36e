// express-session + connect-redis: the usual production setup today.
import { createClient, RedisStore } from '../../../legs/peers/index.js'
import { serveExpressSession } from './serve.js'

const redis = createClient({ url: process.env.REDIS_URL })
await redis.connect()
serveExpressSession(new RedisStore({ client: redis, prefix: process.env.REDIS_PREFIX }))
