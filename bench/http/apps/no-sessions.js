// No sessions at all: the same routes answering without a store, the ceiling of this machine.
import express from 'express'
import { listen } from './serve.js'

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
listen(app)
