// No sessions at all: the same routes answering without a store, the ceiling of this machine.
import express from 'express'

let counter = 0
const app = express()

app.post('/login', (req, res) => {
  res.send('ok')
})
app.get('/read', (req, res) => {
  res.send('user_0')
})
app.get('/write', (req, res) => {
  counter += 1
  res.send(String(counter))
})

const port = Number(process.env.PORT ?? 3000)
app.listen(port, '127.0.0.1', (error) => {
  if (error) throw error
  console.log(`listening on http://127.0.0.1:${port}`)
})
