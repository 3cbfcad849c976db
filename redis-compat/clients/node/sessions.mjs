// Real Node session stacks, unchanged, against one server.
//
//   node sessions.mjs session node-redis|ioredis 2|3 redis://127.0.0.1:PORT
//   node sessions.mjs slide slides|no-slide redis://127.0.0.1:PORT
//
// `session`: express 5 + express-session + connect-redis over node-redis (connect-redis 9) or
// ioredis (connect-redis 8.1, the last major that accepts an ioredis client), on RESP2 or RESP3.
// A real HTTP server on loopback: log in, carry the cookie through several requests, check that
// the session data round-trips, list sessions (store.all() = SCAN MATCH + MGET over more than
// one SCAN page), log out (DEL), clear(), and a session with a 1 s TTL that the server expires.
//
// `slide`: connect-redis 9 on node-redis with `disableTouch: true` (the client never sends
// EXPIRE) and a 2 s TTL under the default prefix `sess:`. One session is kept busy with a request
// every 300 ms for 4.5 s, another is left idle. `slides` (sesame --slide 'sess:*'): the busy
// session survives the whole time and both die about one TTL after their last request.
// `no-slide` (redis-server, or sesame without --slide): the busy session dies about one TTL
// after login, like the idle one.
//
// Prints one line per step; on failure a line `FAIL: <what the library did>: <what it got back>`
// and exit status 1.

import {createServer} from "node:http"
import {setTimeout as sleep} from "node:timers/promises"
import express from "express"
import session from "express-session"
import {RedisStore as RedisStoreV9} from "connect-redis"
import {RedisStore as RedisStoreV8} from "connect-redis-8"
import {createClient} from "redis"
import {Redis as IORedis} from "ioredis"

class Failure extends Error {}

function fail(did, got) {
  throw new Failure(`${did}: ${got}`)
}

function show(value) {
  const text = JSON.stringify(value, (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v))
  return text === undefined ? String(value) : text.length > 600 ? text.slice(0, 600) + "…" : text
}

function log(line) {
  process.stdout.write(line + "\n")
}

// The last thing started, for the report if the scenario is killed or times out.
let current = "starting"
function doing(what) {
  current = what
}

// ---- clients ---------------------------------------------------------------------------------

// A thin view over either driver for the checks this program makes itself (not the store's
// calls, which go through connect-redis unchanged).
async function connectClient(kind, resp, url) {
  if (kind === "node-redis") {
    const client = createClient({url, RESP: resp})
    let lastError = null
    client.on("error", (e) => (lastError = e))
    try {
      await client.connect()
    } catch (e) {
      fail(`node-redis createClient({RESP: ${resp}}).connect() (handshake${resp === 3 ? " HELLO 3," : ""} CLIENT SETINFO ×2)`, `${e}`)
    }
    return traced({
      raw: client,
      describe: `node-redis RESP${resp}`,
      lastError: () => lastError,
      get: (k) => client.get(k),
      exists: (k) => client.exists(k),
      ttl: (k) => client.ttl(k),
      set: (k, v) => client.set(k, v),
      del: (k) => client.del(k),
      hello: () => client.sendCommand(["HELLO"]),
      close: () => client.quit(),
    })
  }
  const client = new IORedis(url, {protocol: resp, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null})
  // Observe ioredis's ready check (an INFO on every connect) without changing what it sends.
  const readyInfo = []
  const info = client.info.bind(client)
  client.info = (...args) => {
    const reply = info(...args)
    reply.then((r) => readyInfo.push(r), (e) => readyInfo.push(e))
    return reply
  }
  let lastError = null
  client.on("error", (e) => (lastError = e))
  try {
    await client.connect()
  } catch (e) {
    fail(`ioredis new Redis({protocol: ${resp}}).connect() (${resp === 3 ? "hello 3, " : ""}client SETINFO ×2, info ready check)`, `${e}`)
  }
  client.info = info
  return traced({
    raw: client,
    describe: `ioredis protocol ${resp}`,
    readyInfo,
    lastError: () => lastError,
    get: (k) => client.get(k),
    exists: (k) => client.exists(k),
    ttl: (k) => client.ttl(k),
    set: (k, v) => client.set(k, v),
    del: (k) => client.del(k),
    hello: () => client.call("hello"),
    close: () => client.quit(),
  })
}

// Records each call of the view in `current`.
function traced(view) {
  for (const name of ["get", "exists", "ttl", "set", "del", "hello", "close"]) {
    const call = view[name]
    view[name] = (...args) => {
      doing(`${view.describe}: ${name.toUpperCase()} ${args.join(" ")}`)
      return call(...args)
    }
  }
  return view
}

function makeStore(kind, client, options) {
  return kind === "node-redis"
    ? new RedisStoreV9({client: client.raw, ...options})
    : new RedisStoreV8({client: client.raw, ...options})
}

// ---- the web application -----------------------------------------------------------------------

// An express app whose sessions live in `store`. Routes:
//   POST /login?user=NAME  creates the session, answers {sid}
//   GET  /me               increments `visits` (a modified session: express-session saves it)
//   GET  /peek             reads the session without modifying it
//   POST /logout           req.session.destroy() (store.destroy: DEL)
//   GET  /all              store.all()
async function startApp(store) {
  const app = express()
  app.use(
    session({
      store,
      secret: "sesame compat suite",
      resave: false,
      saveUninitialized: false,
      name: "sid",
    }),
  )
  app.post("/login", (req, res) => {
    req.session.user = req.query.user
    req.session.visits = 0
    req.session.cart = {items: [{sku: "A-1", qty: 2}, {sku: "ß-2 ✓", qty: 1}], total: 12.5, note: null}
    req.session.save((err) => (err ? res.status(500).json({error: String(err)}) : res.json({sid: req.sessionID})))
  })
  app.get("/me", (req, res) => {
    if (!req.session.user) return res.status(401).json({error: "no session"})
    req.session.visits += 1
    res.json({sid: req.sessionID, user: req.session.user, visits: req.session.visits, cart: req.session.cart})
  })
  app.get("/peek", (req, res) => {
    if (!req.session.user) return res.status(401).json({error: "no session"})
    res.json({sid: req.sessionID, user: req.session.user})
  })
  app.post("/logout", (req, res) => {
    req.session.destroy((err) => (err ? res.status(500).json({error: String(err)}) : res.json({ok: true})))
  })
  app.get("/all", async (_req, res) => {
    try {
      res.json(await store.all())
    } catch (err) {
      res.status(500).json({error: String(err)})
    }
  })
  // express-session hands store errors to next(err): answer them as JSON so the check can say what came back.
  app.use((err, _req, res, _next) => res.status(500).json({error: String(err && err.stack ? err.stack.split("\n")[0] : err)}))
  const server = createServer(app)
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
  const base = `http://127.0.0.1:${server.address().port}`
  return {base, close: () => new Promise((resolve) => server.close(resolve))}
}

// One browser: keeps the session cookie it is given and sends it back.
class Browser {
  constructor(base) {
    this.base = base
    this.cookie = null
  }
  async request(method, path) {
    doing(`HTTP ${method} ${path}`)
    const headers = this.cookie ? {cookie: this.cookie} : {}
    const res = await fetch(this.base + path, {method, headers})
    const setCookie = res.headers.get("set-cookie")
    if (setCookie) this.cookie = setCookie.split(";")[0]
    let body = await res.text()
    try {
      body = JSON.parse(body)
    } catch {
      // keep the text
    }
    return {status: res.status, body}
  }
}

// ---- the session scenario --------------------------------------------------------------------

async function sessionScenario(kind, resp, url) {
  const tag = `${kind === "node-redis" ? "nr" : "io"}${resp}`
  const prefix = `sess:${tag}:${process.pid}:`
  const client = await connectClient(kind, resp, url)
  const did = (what) => `${client.describe}: ${what}`
  try {
    // The handshake really negotiated the protocol asked for.
    const hello = await client.hello()
    const proto = hello instanceof Map ? hello.get("proto") : Array.isArray(hello) ? hello[hello.indexOf("proto") + 1] : hello && hello.proto
    if (Number(proto) !== resp) fail(did("HELLO (no arguments) after connecting"), `proto ${show(proto)} in ${show(hello)}, expected ${resp}`)
    log(`ok   connected, HELLO says proto ${proto}`)
    if (kind === "ioredis") {
      const info = client.readyInfo[0]
      if (typeof info !== "string" || !/(^|\r\n)loading:0\r\n/.test(info) || !/(^|\r\n)redis_version:\d+\.\d+\.\d+\r\n/.test(info))
        fail(did("ready check `info` on connect"), `expected a bulk string with loading:0 and redis_version, got ${show(info)}`)
      log("ok   ioredis ready check: INFO had loading:0")
    }

    const store = makeStore(kind, client, {prefix, ttl: 60})
    const app = await startApp(store)
    try {
      const alice = new Browser(app.base)
      const bob = new Browser(app.base)
      let r = await alice.request("POST", "/login?user=alice")
      if (r.status !== 200 || !alice.cookie) fail(did(`POST /login: store.set → SET ${prefix}<sid> <json> EX 60`), `HTTP ${r.status} ${show(r.body)}, cookie ${alice.cookie}`)
      const aliceSid = r.body.sid
      r = await bob.request("POST", "/login?user=bob")
      if (r.status !== 200) fail(did("POST /login (bob)"), `HTTP ${r.status} ${show(r.body)}`)
      const bobSid = r.body.sid
      log(`ok   logged in alice (${aliceSid}) and bob`)

      // The cookie carries the session through several requests; each modifies it (SET … EX).
      for (let visit = 1; visit <= 4; visit++) {
        r = await alice.request("GET", "/me")
        const want = {sid: aliceSid, user: "alice", visits: visit, cart: {items: [{sku: "A-1", qty: 2}, {sku: "ß-2 ✓", qty: 1}], total: 12.5, note: null}}
        if (r.status !== 200 || show(r.body) !== show(want))
          fail(did(`GET /me #${visit} with the cookie: store.get → GET ${prefix}${aliceSid}, then store.set`), `HTTP ${r.status} ${show(r.body)}, expected ${show(want)}`)
      }
      r = await bob.request("GET", "/peek")
      if (r.status !== 200 || r.body.user !== "bob") fail(did("GET /peek as bob"), `HTTP ${r.status} ${show(r.body)}`)
      r = await new Browser(app.base).request("GET", "/me")
      if (r.status !== 401) fail(did("GET /me without a cookie"), `HTTP ${r.status} ${show(r.body)}, expected 401`)
      log("ok   session data round-trips through 4 requests; no cookie → no session")

      // What is stored: JSON with a TTL.
      const raw = await client.get(prefix + aliceSid)
      let stored = null
      try {
        stored = JSON.parse(raw)
      } catch {
        // reported below
      }
      if (!stored || stored.user !== "alice" || stored.visits !== 4) fail(did(`GET ${prefix}${aliceSid}`), `${show(raw)}, expected the session JSON with visits 4`)
      const ttl = Number(await client.ttl(prefix + aliceSid))
      if (!(ttl > 50 && ttl <= 60)) fail(did(`TTL ${prefix}${aliceSid} after SET … EX 60`), `${ttl}`)
      log(`ok   stored as JSON, TTL ${ttl}`)

      // List sessions: more than one SCAN page (COUNT 100), with keys around that must not match.
      const extra = 130
      for (let i = 0; i < extra; i++) {
        const b = new Browser(app.base)
        const res = await b.request("POST", `/login?user=user${i}`)
        if (res.status !== 200) fail(did(`POST /login (user${i})`), `HTTP ${res.status} ${show(res.body)}`)
      }
      await client.set(`other:${tag}:${process.pid}:1`, "not a session")
      await client.set(`sess:${tag}x:${process.pid}:1`, "not this prefix")
      doing("store.all()")
      const all = await store.all()
      const users = all.map((s) => s.user).sort()
      if (all.length !== extra + 2 || !users.includes("alice") || !users.includes("bob") || all.some((s) => !s.id || s.cookie === undefined))
        fail(did(`store.all(): SCAN <cursor> MATCH ${prefix}* COUNT 100 until cursor "0", then MGET`), `${all.length} sessions (expected ${extra + 2}): ${show(users.slice(0, 12))}…`)
      doing("store.ids()")
      const ids = await store.ids()
      if (ids.length !== extra + 2 || !ids.includes(aliceSid)) fail(did("store.ids() (SCAN loop)"), `${ids.length} ids, alice's ${ids.includes(aliceSid) ? "present" : "missing"}`)
      const viaHttp = await alice.request("GET", "/all")
      if (viaHttp.status !== 200 || viaHttp.body.length !== extra + 2) fail(did("GET /all (store.all())"), `HTTP ${viaHttp.status}, ${show(viaHttp.body).slice(0, 200)}`)
      log(`ok   store.all() lists ${all.length} sessions over several SCAN pages (MATCH excluded the others)`)

      // Log out: DEL. The cookie no longer finds a session.
      r = await alice.request("POST", "/logout")
      if (r.status !== 200) fail(did(`POST /logout: store.destroy → DEL ${prefix}${aliceSid}`), `HTTP ${r.status} ${show(r.body)}`)
      const exists = Number(await client.exists(prefix + aliceSid))
      if (exists !== 0) fail(did(`EXISTS ${prefix}${aliceSid} after logout (DEL)`), `${exists}`)
      r = await alice.request("GET", "/me")
      if (r.status !== 401) fail(did("GET /me with the logged-out cookie"), `HTTP ${r.status} ${show(r.body)}`)
      doing("store.length()")
      const length = await store.length()
      if (length !== extra + 1) fail(did("store.length() after logout"), `${length}, expected ${extra + 1}`)
      log("ok   logout deleted the session")

      // clear(): SCAN + DEL k1 … kn.
      doing("store.clear()")
      await store.clear()
      const left = await store.length()
      if (left !== 0) fail(did(`store.clear(): SCAN MATCH ${prefix}* then DEL of every key`), `${left} sessions left`)
      r = await bob.request("GET", "/peek")
      if (r.status !== 401) fail(did("GET /peek as bob after store.clear()"), `HTTP ${r.status} ${show(r.body)}`)
      const other = await client.get(`other:${tag}:${process.pid}:1`)
      if (other !== "not a session") fail(did("GET of a non-session key after store.clear()"), `${show(other)}`)
      await client.del(`other:${tag}:${process.pid}:1`)
      await client.del(`sess:${tag}x:${process.pid}:1`)
      log("ok   store.clear() removed every session and nothing else")
    } finally {
      await app.close()
    }

    // Expiry by TTL: a store with a 1 s TTL; the server removes the session by itself.
    const shortPrefix = `${prefix}short:`
    const shortStore = makeStore(kind, client, {prefix: shortPrefix, ttl: 1})
    const shortApp = await startApp(shortStore)
    try {
      const carol = new Browser(shortApp.base)
      let r = await carol.request("POST", "/login?user=carol")
      const t0 = Date.now()
      if (r.status !== 200) fail(did("POST /login with ttl 1"), `HTTP ${r.status} ${show(r.body)}`)
      const key = shortPrefix + r.body.sid
      const ttl = Number(await client.ttl(key))
      if (ttl !== 1) fail(did(`TTL ${key} right after SET … EX 1`), `${ttl}`)
      let goneAt = null
      while (Date.now() - t0 < 3000) {
        if (Number(await client.exists(key)) === 0) {
          goneAt = Date.now() - t0
          break
        }
        await sleep(50)
      }
      if (goneAt === null) fail(did(`EXISTS ${key} polled for 3 s after SET … EX 1`), "still 1")
      if (goneAt < 700) fail(did(`EXISTS ${key} after SET … EX 1`), `0 already after ${goneAt} ms`)
      r = await carol.request("GET", "/peek")
      if (r.status !== 401) fail(did("GET /peek with the expired session's cookie"), `HTTP ${r.status} ${show(r.body)}`)
      log(`ok   a 1 s session expired after ${goneAt} ms; its cookie finds no session`)
    } finally {
      await shortApp.close()
    }
  } finally {
    await client.close().catch(() => {})
  }
}

// ---- the sliding scenario ----------------------------------------------------------------------

async function slideScenario(expect, url) {
  const TTL_S = 2
  const BUSY_FOR_MS = 4500
  const EVERY_MS = 300
  const client = await connectClient("node-redis", 3, url)
  const store = makeStore("node-redis", client, {ttl: TTL_S, disableTouch: true}) // default prefix "sess:"
  const app = await startApp(store)
  const did = (what) => `node-redis RESP3 + connect-redis 9 (disableTouch, ttl ${TTL_S}): ${what}`
  try {
    const busy = new Browser(app.base)
    const idle = new Browser(app.base)
    let r = await idle.request("POST", "/login?user=idle")
    const idleLast = Date.now()
    if (r.status !== 200) fail(did("POST /login (idle)"), `HTTP ${r.status} ${show(r.body)}`)
    const idleKey = "sess:" + r.body.sid
    r = await busy.request("POST", "/login?user=busy")
    const t0 = Date.now()
    if (r.status !== 200) fail(did("POST /login (busy)"), `HTTP ${r.status} ${show(r.body)}`)
    const busyKey = "sess:" + r.body.sid

    // Keep `busy` busy (GET only: unmodified sessions are not saved and touch is disabled), and
    // watch `idle` with EXISTS, which never slides.
    let busyLast = t0
    let busyDiedAt = null
    let idleGoneAt = null
    let requests = 0
    while (Date.now() - t0 < BUSY_FOR_MS) {
      if (busyDiedAt === null) {
        r = await busy.request("GET", "/peek")
        requests++
        if (r.status === 200) busyLast = Date.now()
        else if (r.status === 401) busyDiedAt = Date.now() - t0
        else fail(did(`GET /peek (store.get → GET ${busyKey})`), `HTTP ${r.status} ${show(r.body)}`)
      }
      if (idleGoneAt === null && Number(await client.exists(idleKey)) === 0) idleGoneAt = Date.now() - idleLast
      if (expect === "no-slide" && busyDiedAt !== null && idleGoneAt !== null) break
      await sleep(EVERY_MS)
    }

    // "About one TTL": not before TTL - 300 ms, and by TTL + 1.2 s (poll interval, request latency,
    // and a loaded machine).
    const window = (ms) => ms !== null && ms >= TTL_S * 1000 - 300 && ms <= TTL_S * 1000 + 1200
    if (!window(idleGoneAt))
      fail(did(`EXISTS ${idleKey} polled after its only request (login: SET … EX ${TTL_S})`), idleGoneAt === null ? `still there after ${BUSY_FOR_MS} ms` : `gone after ${idleGoneAt} ms, expected about ${TTL_S * 1000} ms`)
    if (expect === "slides") {
      if (busyDiedAt !== null)
        fail(did(`GET /peek every ${EVERY_MS} ms (only GET ${busyKey}; no EXPIRE is sent)`), `the session was gone ${busyDiedAt} ms after login (request ${requests}); with --slide every GET should have pushed its deadline out by ${TTL_S} s`)
      // Now leave it idle too: it dies about one TTL after its last request.
      let goneAfter = null
      while (Date.now() - busyLast < TTL_S * 1000 + 1500) {
        if (Number(await client.exists(busyKey)) === 0) {
          goneAfter = Date.now() - busyLast
          break
        }
        await sleep(50)
      }
      if (!window(goneAfter))
        fail(did(`EXISTS ${busyKey} polled after the busy session's last request`), goneAfter === null ? "still there" : `gone ${goneAfter} ms after the last GET, expected about ${TTL_S * 1000} ms`)
      log(`ok   busy session alive through ${requests} requests over ${busyLast - t0} ms (TTL ${TTL_S} s), gone ${goneAfter} ms after its last request; idle gone after ${idleGoneAt} ms`)
    } else {
      if (busyDiedAt === null || busyDiedAt > TTL_S * 1000 + 1200)
        fail(did(`GET /peek every ${EVERY_MS} ms with no EXPIRE sent`), busyDiedAt === null ? `the session was still there after ${BUSY_FOR_MS} ms: it slid, but this server should keep the fixed TTL` : `gone only after ${busyDiedAt} ms`)
      if (busyDiedAt < TTL_S * 1000 - 300) fail(did(`GET /peek every ${EVERY_MS} ms`), `session gone already after ${busyDiedAt} ms (TTL ${TTL_S} s)`)
      log(`ok   fixed TTL: the busy session died ${busyDiedAt} ms after login despite ${requests} requests; idle gone after ${idleGoneAt} ms`)
    }
  } finally {
    await app.close()
    await client.close().catch(() => {})
  }
}

// ---- main ------------------------------------------------------------------------------------

async function main() {
  const [scenario, ...args] = process.argv.slice(2)
  if (scenario === "session" && args.length === 3) {
    const [kind, resp, url] = args
    if (!["node-redis", "ioredis"].includes(kind) || !["2", "3"].includes(resp)) throw new Error("usage")
    await sessionScenario(kind, Number(resp), url)
  } else if (scenario === "slide" && args.length === 2 && ["slides", "no-slide"].includes(args[0])) {
    await slideScenario(args[0], args[1])
  } else {
    process.stderr.write("usage: node sessions.mjs session node-redis|ioredis 2|3 URL | slide slides|no-slide URL\n")
    process.exit(2)
  }
}

const watchdog = setTimeout(() => {
  log(`FAIL: the scenario did not finish within 60 s; waiting for: ${current}`)
  process.exit(1)
}, 60000)
watchdog.unref()
process.on("SIGTERM", () => {
  log(`FAIL: killed by SIGTERM; waiting for: ${current}`)
  process.exit(1)
})

main().then(
  () => process.exit(0),
  (err) => {
    log(err instanceof Failure ? `FAIL: ${err.message}` : `FAIL: unexpected exception: ${err && err.stack ? err.stack : err}`)
    process.exit(1)
  },
)
