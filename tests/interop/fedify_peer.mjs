#!/usr/bin/env node
// Fedify interop peer for congregation's interoperability tests.
//
// A tiny, real Fedify (https://fedify.dev) server with one actor, `peer`,
// plus a loopback-only JSON control API (under /_control/) that lets a test
// make the peer follow/unfollow/post, and inspect what the peer received.
//
// Usage:  node fedify_peer.mjs [PORT]        (or PEER_PORT=PORT; 0 = any free port)
// Prints exactly one line `READY http://127.0.0.1:<port>` on stdout once
// listening; everything else (logs) goes to stderr.
//
// Environment knobs (all optional):
//   PEER_PORT          port (argv[2] wins); default 0 = ephemeral
//   PEER_HOST          bind/origin host; default 127.0.0.1
//   PEER_ORIGIN_HOST   the host in the peer's URIs, when it is not PEER_HOST: a made-up name the node under test
//                      resolves to loopback through its test DNS, so its SSRF guard stays on; default PEER_HOST
//   PEER_LOG_LEVEL     logtape level for "fedify" + "fedify-peer": trace|debug|info|warning|error; default info
//   PEER_RSA_BITS      RSA modulus length: 2048 (default) or 4096 (fedify's generateCryptoKeyPair)
//   PEER_ED25519       "0" disables the Ed25519 key (then no Object Integrity Proofs are attached); default on
//   PEER_AUTO_ACCEPT   "0" disables auto-Accept of incoming Follows; default on
//   PEER_ACCEPT_DELAY_MS  delay before the Accept is delivered (it is always sent
//                      after the Follow's HTTP response, like real servers); default 50
//   PEER_FIRST_KNOCK   "rfc9421" (Fedify default) or "draft-cavage-http-signatures-12"
//   PEER_WEBFINGER_SCHEMES  schemes tried for acct: lookups, comma separated; default "http,https"

import process from "node:process";
import http from "node:http";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { AsyncLocalStorage } from "node:async_hooks";

// ---------------------------------------------------------------------------
// Node 20 polyfills. Fedify 2.x declares node>=22. On Node 20 two things are
// missing: the `navigator` global (Node 21+) -- fedify's importJwk reads
// `navigator.userAgent` when importing Ed25519 keys and would throw a
// ReferenceError -- and (cosmetically) `Temporal`. Both are installed BEFORE
// fedify is loaded, which is why every fedify import below is dynamic.
// ---------------------------------------------------------------------------
if (!("navigator" in globalThis)) {
  Object.defineProperty(globalThis, "navigator", {
    value: { userAgent: `Node.js/${process.versions.node}` },
    configurable: true,
    writable: true,
  });
}
if (globalThis.Temporal === undefined) {
  const { Temporal } = await import("@js-temporal/polyfill");
  globalThis.Temporal = Temporal;
}

const logtape = await import("@logtape/logtape");
const fedify = await import("@fedify/fedify");
const vocab = await import("@fedify/vocab");
const {
  createFederation,
  MemoryKvStore,
  generateCryptoKeyPair,
  getDocumentLoader,
  SendActivityError,
  verifyObject,
} = fedify;
const {
  Accept,
  Activity,
  Create,
  Endpoints,
  Flag,
  Follow,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Question,
  Reject,
  Undo,
  isActor,
} = vocab;

const FEDIFY_VERSION = JSON.parse(await readFile(
  new URL("./node_modules/@fedify/fedify/package.json", import.meta.url), "utf8")).version;
const ACTOR = "peer";
const startedAt = performance.now();

// ------------------------------------------------------------------ config --
const argPort = process.argv[2];
const PORT_REQ = Number.parseInt(argPort ?? process.env.PEER_PORT ?? "0", 10);
if (!Number.isInteger(PORT_REQ) || PORT_REQ < 0 || PORT_REQ > 65535) {
  process.stderr.write(`invalid port: ${argPort ?? process.env.PEER_PORT}\n`);
  process.exit(2);
}
const HOST = process.env.PEER_HOST ?? "127.0.0.1";
const ORIGIN_HOST = process.env.PEER_ORIGIN_HOST || HOST;
const LOG_LEVEL = process.env.PEER_LOG_LEVEL ?? "info";
const USE_ED25519 = process.env.PEER_ED25519 !== "0";
const RSA_BITS = Number.parseInt(process.env.PEER_RSA_BITS ?? "2048", 10);
const AUTO_ACCEPT = process.env.PEER_AUTO_ACCEPT !== "0";
const ACCEPT_DELAY_MS = Number.parseInt(process.env.PEER_ACCEPT_DELAY_MS ?? "50", 10);
const FIRST_KNOCK = process.env.PEER_FIRST_KNOCK || undefined;
const WEBFINGER_SCHEMES = (process.env.PEER_WEBFINGER_SCHEMES ?? "http,https")
  .split(",").map((s) => s.trim()).filter(Boolean);

// ----------------------------------------------------------------- logging --
await logtape.configure({
  contextLocalStorage: new AsyncLocalStorage(), // silences a logtape meta warning per request
  sinks: {
    stderr: (record) => process.stderr.write(logtape.defaultTextFormatter(record)),
  },
  loggers: [
    { category: "fedify", sinks: ["stderr"], lowestLevel: LOG_LEVEL },
    { category: "fedify-peer", sinks: ["stderr"], lowestLevel: LOG_LEVEL },
    { category: ["logtape", "meta"], sinks: ["stderr"], lowestLevel: "warning" },
  ],
});
const log = logtape.getLogger(["fedify-peer"]);

// -------------------------------------------------------------------- keys --
// fedify's generateCryptoKeyPair("RSASSA-PKCS1-v1_5") always makes a 4096-bit
// key (slow, ~0.5-1 s); the default here is a 2048-bit key made with the same
// WebCrypto parameters (e=65537, SHA-256, extractable) -- what Mastodon uses.
const keyPairs = [
  RSA_BITS === 4096
    ? await generateCryptoKeyPair("RSASSA-PKCS1-v1_5")
    : await crypto.subtle.generateKey({
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: RSA_BITS,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    }, true, ["sign", "verify"]),
];
if (USE_ED25519) keyPairs.push(await generateCryptoKeyPair("Ed25519"));

// ------------------------------------------------------------------- state --
const events = [];          // verified inbox activities (recorded by listeners)
const inboxLog = [];        // every POST to an inbox path, with the HTTP status Fedify answered
const deliveries = [];      // every outbound delivery attempt by the peer
const following = new Map(); // followId -> { followId, target, inbox, state, acceptId }
const followers = new Map(); // actorId -> { id, inbox, sharedInbox, followId }
const sentActivities = new Map(); // activity URL -> JSON-LD (served at GET /activities/<uuid>)
const sigByActivityId = new Map(); // activity id -> signature info seen by the HTTP adapter
const rawByActivityId = new Map(); // activity id -> JSON body as received by the HTTP adapter
let seq = 0;

// -------------------------------------------------------------- federation --
// Bind first so that port 0 works: the origin must be known before building
// the federation.
const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    log.error("Unhandled error for {method} {url}: {error}", { method: req.method, url: req.url, error });
    if (!res.headersSent) sendJson(res, 500, { error: String(error?.stack ?? error) });
    else res.end();
  });
});
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(PORT_REQ, HOST, resolve);
});
const PORT = server.address().port;
const HOSTPORT = ORIGIN_HOST.includes(":") ? `[${ORIGIN_HOST}]:${PORT}` : `${ORIGIN_HOST}:${PORT}`;
const ORIGIN = `http://${HOSTPORT}`;

const federation = createFederation({
  kv: new MemoryKvStore(),
  // No queue: inbox listeners run before the inbox answers, and sends are
  // immediate (errors surface to the caller). Signature verification stays ON.
  origin: ORIGIN,
  allowPrivateAddress: true, // lets lookups/key fetches reach 127.0.0.1
  ...(FIRST_KNOCK ? { firstKnock: FIRST_KNOCK } : {}),
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== ACTOR) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Fedify interop peer",
      summary: `Test peer running Fedify ${FEDIFY_VERSION}`,
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      outbox: ctx.getOutboxUri(identifier),
      followers: ctx.getFollowersUri(identifier),
      following: ctx.getFollowingUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      manuallyApprovesFollowers: !AUTO_ACCEPT,
      // RSA key as `publicKey` (HTTP Signatures); every key as Multikey
      // `assertionMethod` (Object Integrity Proofs use the Ed25519 one).
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .mapHandle((_ctx, username) => (username === ACTOR ? ACTOR : null))
  .setKeyPairsDispatcher((_ctx, identifier) => (identifier === ACTOR ? keyPairs : []));

federation
  .setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier) => {
    if (identifier !== ACTOR) return null;
    return {
      items: [...followers.values()].map((f) => ({
        id: new URL(f.id),
        inboxId: f.inbox ? new URL(f.inbox) : null,
        endpoints: f.sharedInbox ? { sharedInbox: new URL(f.sharedInbox) } : null,
      })),
    };
  })
  .setCounter((_ctx, identifier) => (identifier === ACTOR ? followers.size : null));

federation
  .setFollowingDispatcher("/users/{identifier}/following", (_ctx, identifier) => {
    if (identifier !== ACTOR) return null;
    return {
      items: [...following.values()]
        .filter((f) => f.state === "accepted")
        .map((f) => new URL(f.target)),
    };
  });

federation
  .setOutboxDispatcher("/users/{identifier}/outbox", (_ctx, identifier) => {
    if (identifier !== ACTOR) return null;
    return { items: [] };
  });

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Follow, async (ctx, follow) => {
    const ev = await record(ctx, follow);
    if (follow.id == null || follow.actorId == null || follow.objectId == null) {
      ev.note = "Follow without id/actor/object: ignored";
      return;
    }
    const parsed = ctx.parseUri(follow.objectId);
    if (parsed?.type !== "actor" || parsed.identifier !== ACTOR) {
      ev.note = "Follow object is not our actor: ignored";
      return;
    }
    const follower = await follow.getActor(ctx);
    if (follower == null || !isActor(follower) || follower.id == null) {
      ev.note = "could not dereference the follower actor";
      return;
    }
    followers.set(follower.id.href, {
      id: follower.id.href,
      inbox: follower.inboxId?.href ?? null,
      sharedInbox: follower.endpoints?.sharedInbox?.href ?? null,
      followId: follow.id.href,
    });
    if (!AUTO_ACCEPT) {
      ev.note = "auto-accept disabled";
      return;
    }
    const accept = new Accept({
      id: newActivityId(),
      actor: follow.objectId,
      object: follow, // embed the Follow, like Mastodon does
      to: follower.id,
    });
    ev.acceptId = accept.id.href;
    // Deliver after the Follow's HTTP response has gone out (real servers
    // queue this); delivering inside the request could deadlock a
    // single-threaded peer that blocks on its outgoing Follow POST.
    setTimeout(() => {
      deliver(federation.createContext(new URL(ORIGIN), undefined), follower, accept, "auto-accept")
        .catch(() => { /* logged in deliver() */ });
    }, Number.isInteger(ACCEPT_DELAY_MS) ? ACCEPT_DELAY_MS : 50);
  })
  .on(Accept, async (ctx, accept) => {
    const ev = await record(ctx, accept);
    matchFollowResponse(ev, accept, "accepted");
  })
  .on(Reject, async (ctx, reject) => {
    const ev = await record(ctx, reject);
    matchFollowResponse(ev, reject, "rejected");
  })
  .on(Undo, async (ctx, undo) => {
    const ev = await record(ctx, undo);
    const objectId = undo.objectId?.href;
    for (const [actorId, f] of followers) {
      if (f.followId === objectId || (objectId == null && actorId === undo.actorId?.href)) {
        followers.delete(actorId);
        ev.note = `removed follower ${actorId}`;
      }
    }
  })
  .on(Flag, async (ctx, flag) => {
    // A report (Mastodon's shape: object = [reported account, its statuses...], content = the comment).
    const ev = await record(ctx, flag);
    ev.objects = flag.objectIds.map((u) => u.href);
    ev.content = flag.content?.toString() ?? null;
  })
  .on(Activity, async (ctx, activity) => {
    const ev = await record(ctx, activity); // catch-all: Create, Announce, Update, Delete, ...
    // An embedded object with its own FEP-8b32 integrity proof (a Congregation's Assembly proposal is a
    // Question): check it with Fedify's own verifyObject, which fetches the proof's verificationMethod.
    const inner = ev.activity?.object;
    if (inner && typeof inner === "object" && inner.proof != null) {
      ev.objectProof = await checkObjectProof(ctx, inner);
    }
  })
  .onError((_ctx, error) => {
    log.error("Inbox listener error: {error}", { error });
  });

// ----------------------------------------------------------------- helpers --
function newActivityId() {
  return new URL(`/activities/${randomUUID()}`, ORIGIN);
}

async function record(ctx, activity) {
  const id = activity.id?.href ?? null;
  let raw = (id && rawByActivityId.get(id)) || null; // the JSON exactly as received
  if (raw == null) {
    try { raw = await activity.toJsonLd({ contextLoader: ctx.contextLoader }); } catch { /* ignore */ }
  }
  const type = (raw && typeof raw.type === "string") ? raw.type : activity.constructor.name;
  const ev = {
    seq: ++seq,
    type,
    id,
    actor: activity.actorId?.href ?? null,
    object: activity.objectId?.href ?? null,
    verified: true, // only activities that passed Fedify's verification reach listeners
    recipient: ctx.recipient ?? null, // null = shared inbox
    receivedAt: new Date().toISOString(),
    signature: (id && sigByActivityId.get(id)) || null,
    activity: raw,
  };
  events.push(ev);
  log.info("Recorded verified {type} {id} from {actor}", ev);
  return ev;
}

// Fedify's verification of a FEP-8b32 object proof: "verified" when verifyObject returns the object.
async function checkObjectProof(ctx, json) {
  const cls = json.type === "Question" ? Question : Note;
  try {
    const verified = await verifyObject(cls, json, {
      documentLoader: ctx.documentLoader, contextLoader: ctx.contextLoader,
    });
    return verified == null ? "not verified" : "verified";
  } catch (error) {
    return `error: ${error?.message ?? error}`;
  }
}

function matchFollowResponse(ev, activity, state) {
  const objectId = activity.objectId?.href;
  let match = objectId ? following.get(objectId) : undefined;
  if (match == null) {
    // Fallback: the responder did not reference our Follow by id; match by actor.
    match = [...following.values()].find(
      (f) => f.state === "pending" && f.target === activity.actorId?.href,
    );
    if (match) ev.matchedBy = "actor";
  } else {
    ev.matchedBy = "id";
  }
  if (match) {
    ev.followId = match.followId;
    ev.followTarget = match.target;
    ev.actorMatchesTarget = match.target === activity.actorId?.href;
    if (ev.actorMatchesTarget) {
      match.state = state;
      match.responseId = activity.id?.href ?? null;
    }
  }
}

async function deliver(ctx, recipient, activity, purpose, options = {}) {
  const entry = {
    seq: ++seq,
    purpose,
    type: activity.constructor.name,
    id: activity.id?.href ?? null,
    to: recipient.id?.href ?? null,
    inbox: (options.preferSharedInbox && recipient.endpoints?.sharedInbox?.href) || recipient.inboxId?.href || null,
    at: new Date().toISOString(),
    ok: null,
  };
  deliveries.push(entry);
  try {
    sentActivities.set(activity.id.href, await activity.toJsonLd({ contextLoader: ctx.contextLoader }));
  } catch { /* serving is best-effort */ }
  try {
    await ctx.sendActivity({ identifier: ACTOR }, recipient, activity, {
      immediate: true,
      preferSharedInbox: !!options.preferSharedInbox,
    });
    entry.ok = true;
    log.info("Delivered {type} {id} to {inbox}", entry);
  } catch (error) {
    entry.ok = false;
    entry.error = String(error?.message ?? error);
    if (error instanceof SendActivityError) {
      entry.status = error.statusCode;
      entry.responseBody = error.responseBody;
    }
    log.error("Delivery of {type} {id} to {inbox} failed: {error}", { ...entry, error });
    throw error;
  }
  return entry;
}

// Uncached loader for control-API lookups (the federation's own loader caches
// remote documents in the KV store, which would hide changes between steps).
const freshDocumentLoader = getDocumentLoader({ allowPrivateAddress: true });

// Resolve an actor URL / acct: handle / user@host to a Fedify object.
// With signed=true the GETs are signed by the peer's RSA key (authorized
// fetch / "secure mode"); by default they are unsigned, like Fedify's own
// key fetches during inbox verification.
async function resolve(ctx, q, { signed = false } = {}) {
  q = String(q ?? "").trim();
  let handle = null;
  if (q.startsWith("acct:")) handle = q.slice(5);
  else if (/^@?[^@/\s:]+@[^@/\s]+$/.test(q)) handle = q.replace(/^@/, "");
  const lookupOpts = {
    documentLoader: signed ? await ctx.getDocumentLoader({ identifier: ACTOR }) : freshDocumentLoader,
  };
  if (handle != null) {
    // Fedify's WebFinger client always uses https:// for acct: resources,
    // but loopback test servers speak plain http, so try WebFinger here
    // (http first) and let Fedify fetch and parse the actor document.
    const host = handle.slice(handle.lastIndexOf("@") + 1);
    for (const scheme of WEBFINGER_SCHEMES) {
      const url = new URL(`${scheme}://${host}/.well-known/webfinger`);
      url.searchParams.set("resource", `acct:${handle}`);
      try {
        const r = await fetch(url, { headers: { Accept: "application/jrd+json, application/json" } });
        if (!r.ok) {
          log.info("WebFinger {url} answered {status}", { url: url.href, status: r.status });
          continue;
        }
        const jrd = await r.json();
        const self = (jrd.links ?? []).find((l) =>
          l.rel === "self" && typeof l.href === "string" &&
          /^application\/(activity\+json|ld\+json)/.test(l.type ?? "application/activity+json"));
        if (self == null) continue;
        const obj = await ctx.lookupObject(self.href, lookupOpts);
        if (obj != null) return { obj, via: `webfinger(${scheme}) -> ${self.href}` };
      } catch (error) {
        log.info("WebFinger {url} failed: {error}", { url: url.href, error });
      }
    }
  }
  const obj = await ctx.lookupObject(q, lookupOpts);
  return { obj, via: "lookupObject" };
}

async function resolveActor(ctx, target, opts) {
  const { obj, via } = await resolve(ctx, target, opts);
  if (obj == null) throw httpError(404, `could not resolve ${target}`);
  if (!isActor(obj)) throw httpError(422, `${target} is not an actor (${obj.constructor.name})`);
  if (obj.id == null || obj.inboxId == null) throw httpError(422, `${target} has no id or inbox`);
  return { actor: obj, via };
}

function httpError(status, message) {
  return Object.assign(new Error(message), { httpStatus: status });
}

function sendJson(res, status, data) {
  const body = JSON.stringify(data, null, 2);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
  res.end(body);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function parseSignatureInfo(headers, body) {
  const info = { scheme: "none", keyId: null, hasDigest: false, integrityProof: false, ldSignature: false };
  const sigInput = headers.get("signature-input");
  const sig = headers.get("signature");
  if (sigInput != null) {
    info.scheme = "rfc9421";
    info.keyId = /keyid="([^"]*)"/i.exec(sigInput)?.[1] ?? null;
  } else if (sig != null) {
    info.scheme = "draft-cavage";
    info.keyId = /keyId="([^"]*)"/.exec(sig)?.[1] ?? null;
  }
  info.hasDigest = headers.has("digest") || headers.has("content-digest");
  if (body && typeof body === "object") {
    info.integrityProof = body.proof != null;
    info.ldSignature = body.signature != null;
  }
  return info;
}

function isInboxPath(pathname) {
  return pathname === "/inbox" || /^\/users\/[^/]+\/inbox$/.test(pathname);
}

// ------------------------------------------------------------- control API --
async function handleControl(req, res, url) {
  const ctx = federation.createContext(new URL(ORIGIN), undefined);
  const path = url.pathname.slice("/_control".length);
  const body = req.method === "POST" ? await readBody(req) : null;
  let json = {};
  if (body && body.length > 0) {
    try { json = JSON.parse(body.toString("utf8")); } catch { return sendJson(res, 400, { error: "invalid JSON body" }); }
  }
  try {
    if (req.method === "GET" && (path === "/health" || path === "" || path === "/")) {
      return sendJson(res, 200, {
        ok: true, origin: ORIGIN, actor: ctx.getActorUri(ACTOR).href, handle: `acct:${ACTOR}@${HOSTPORT}`,
        inbox: ctx.getInboxUri(ACTOR).href, sharedInbox: ctx.getInboxUri().href,
        fedify: FEDIFY_VERSION, node: process.version, rsaBits: RSA_BITS, ed25519: USE_ED25519, autoAccept: AUTO_ACCEPT,
      });
    }
    if (req.method === "GET" && path === "/events") {
      const type = url.searchParams.get("type");
      return sendJson(res, 200, type ? events.filter((e) => e.type === type) : events);
    }
    if (req.method === "GET" && path === "/inbox-log") return sendJson(res, 200, inboxLog);
    if (req.method === "POST" && path === "/verify-object") {
      // {"object": {...}} — the same check on a copy a test hands over (an altered one must fail)
      return sendJson(res, 200, { result: await checkObjectProof(ctx, json.object) });
    }
    if (req.method === "GET" && path === "/deliveries") return sendJson(res, 200, deliveries);
    if (req.method === "GET" && path === "/following") return sendJson(res, 200, [...following.values()]);
    if (req.method === "GET" && path === "/followers") return sendJson(res, 200, [...followers.values()]);
    if (req.method === "POST" && path === "/reset") {
      events.length = 0; inboxLog.length = 0; deliveries.length = 0;
      return sendJson(res, 200, { ok: true });
    }
    if (req.method === "GET" && path === "/lookup") {
      const q = url.searchParams.get("q");
      if (!q) return sendJson(res, 400, { error: "missing q" });
      const signed = ["1", "true", "yes"].includes(url.searchParams.get("signed") ?? "");
      const { obj, via } = await resolve(ctx, q, { signed });
      if (obj == null) return sendJson(res, 404, { error: `not found: ${q}` });
      res.setHeader("X-Resolved-Via", via);
      return sendJson(res, 200, await obj.toJsonLd({ contextLoader: ctx.contextLoader }));
    }
    if (req.method === "POST" && path === "/follow") {
      if (!json.target) return sendJson(res, 400, { error: "missing target" });
      const { actor, via } = await resolveActor(ctx, json.target, { signed: !!json.signed });
      const follow = new Follow({
        id: newActivityId(),
        actor: ctx.getActorUri(ACTOR),
        object: actor.id,
        to: actor.id,
      });
      following.set(follow.id.href, {
        followId: follow.id.href, target: actor.id.href, inbox: actor.inboxId.href, state: "pending",
      });
      const d = await deliver(ctx, actor, follow, "follow", json);
      return sendJson(res, 200, { followId: follow.id.href, target: actor.id.href, inbox: d.inbox, resolvedVia: via });
    }
    if (req.method === "POST" && path === "/unfollow") {
      if (!json.target) return sendJson(res, 400, { error: "missing target" });
      const { actor } = await resolveActor(ctx, json.target, { signed: !!json.signed });
      const f = json.followId ? following.get(json.followId)
        : [...following.values()].reverse().find((x) => x.target === actor.id.href);
      if (f == null) return sendJson(res, 404, { error: "no Follow of that target" });
      const undo = new Undo({
        id: newActivityId(),
        actor: ctx.getActorUri(ACTOR),
        object: new Follow({ id: new URL(f.followId), actor: ctx.getActorUri(ACTOR), object: actor.id }),
        to: actor.id,
      });
      await deliver(ctx, actor, undo, "unfollow", json);
      f.state = "undone";
      return sendJson(res, 200, { undoId: undo.id.href, followId: f.followId });
    }
    if (req.method === "POST" && path === "/note") {
      // {"target": actor, "content": "<p>hi</p>", "public": true, "inReplyTo": url?}
      if (!json.target) return sendJson(res, 400, { error: "missing target" });
      const { actor } = await resolveActor(ctx, json.target, { signed: !!json.signed });
      const noteId = new URL(`/notes/${randomUUID()}`, ORIGIN);
      const to = [actor.id];
      const cc = json.public === false ? [] : [PUBLIC_COLLECTION];
      const note = new Note({
        id: noteId,
        attribution: ctx.getActorUri(ACTOR),
        content: json.content ?? "Hello from the Fedify interop peer",
        tos: to, ccs: cc,
        published: Temporal.Now.instant(),
        ...(json.inReplyTo ? { replyTarget: new URL(json.inReplyTo) } : {}),
      });
      const create = new Create({
        id: newActivityId(), actor: ctx.getActorUri(ACTOR), object: note, tos: to, ccs: cc,
        published: note.published,
      });
      sentActivities.set(noteId.href, await note.toJsonLd({ contextLoader: ctx.contextLoader }));
      await deliver(ctx, actor, create, "note", json);
      return sendJson(res, 200, { createId: create.id.href, noteId: noteId.href });
    }
    if (req.method === "POST" && path === "/flag") {
      // {"target": actor whose inbox gets it, "objects": [reported account, posts...], "content": comment?}
      // As Mastodon reports a remote account: a Flag to that account's server, no `to`.
      if (!json.target || !Array.isArray(json.objects) || json.objects.length === 0) {
        return sendJson(res, 400, { error: "need target and objects" });
      }
      const { actor } = await resolveActor(ctx, json.target, { signed: !!json.signed });
      const flag = new Flag({
        id: newActivityId(), actor: ctx.getActorUri(ACTOR),
        objects: json.objects.map((o) => new URL(o)), content: json.content ?? "",
      });
      await deliver(ctx, actor, flag, "flag", json);
      return sendJson(res, 200, { flagId: flag.id.href });
    }
    if (req.method === "POST" && path === "/vote") {
      // {"target": the poll's author (actor), "question": url, "choice": "option name"} — Mastodon's vote shape:
      // Create(Note{name, inReplyTo}) with no content, addressed to the poll's author only.
      if (!json.target || !json.question || !json.choice) {
        return sendJson(res, 400, { error: "need target, question and choice" });
      }
      const { actor } = await resolveActor(ctx, json.target, { signed: !!json.signed });
      const noteId = new URL(`/notes/${randomUUID()}`, ORIGIN);
      const note = new Note({
        id: noteId, attribution: ctx.getActorUri(ACTOR), name: json.choice,
        replyTarget: new URL(json.question), tos: [actor.id],
      });
      const create = new Create({ id: newActivityId(), actor: ctx.getActorUri(ACTOR), object: note, tos: [actor.id] });
      sentActivities.set(noteId.href, await note.toJsonLd({ contextLoader: ctx.contextLoader }));
      await deliver(ctx, actor, create, "vote", json);
      return sendJson(res, 200, { createId: create.id.href, noteId: noteId.href });
    }
    return sendJson(res, 404, { error: `unknown control endpoint ${req.method} ${url.pathname}` });
  } catch (error) {
    const status = error.httpStatus ?? (error instanceof SendActivityError ? 502 : 500);
    return sendJson(res, status, {
      error: String(error?.message ?? error),
      ...(error instanceof SendActivityError ? { status: error.statusCode, responseBody: error.responseBody } : {}),
    });
  }
}

// ------------------------------------------------------------ HTTP adapter --
async function handle(req, res) {
  const url = new URL(req.url, `http://${req.headers.host ?? HOSTPORT}`);

  if (url.pathname === "/_control" || url.pathname.startsWith("/_control/")) {
    return handleControl(req, res, url);
  }

  // Activities/notes the peer sent are dereferenceable (plain JSON-LD, unsigned GET).
  if (req.method === "GET" && /^\/(activities|notes)\/[0-9a-f-]+$/.test(url.pathname)) {
    const doc = sentActivities.get(new URL(url.pathname, ORIGIN).href);
    if (doc == null) return sendJson(res, 404, { error: "not found" });
    res.writeHead(200, { "Content-Type": "application/activity+json" });
    return res.end(JSON.stringify(doc));
  }

  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const body = hasBody ? await readBody(req) : undefined;

  let logEntry = null;
  if (req.method === "POST" && isInboxPath(url.pathname)) {
    let parsed = null;
    try { parsed = JSON.parse(body.toString("utf8")); } catch { /* Fedify will answer 400 */ }
    const sig = parseSignatureInfo(headers, parsed);
    const activityId = typeof parsed?.id === "string" ? parsed.id : null;
    if (activityId) {
      sigByActivityId.set(activityId, sig);
      rawByActivityId.set(activityId, parsed);
    }
    logEntry = {
      seq: ++seq, at: new Date().toISOString(), path: url.pathname,
      activityId, type: parsed?.type ?? null,
      actor: typeof parsed?.actor === "string" ? parsed.actor : parsed?.actor?.id ?? null,
      signature: sig, status: null,
    };
    inboxLog.push(logEntry);
  }

  const request = new Request(url, { method: req.method, headers, body });
  const response = await federation.fetch(request, {
    contextData: undefined,
    onNotFound: () => new Response("Not found\n", { status: 404, headers: { "Content-Type": "text/plain" } }),
    onNotAcceptable: () => new Response("Not acceptable\n", {
      status: 406, headers: { "Content-Type": "text/plain", Vary: "Accept" },
    }),
  });
  const out = Buffer.from(await response.arrayBuffer());
  if (logEntry) {
    logEntry.status = response.status;
    if (!response.ok) logEntry.response = out.toString("utf8").slice(0, 500);
  }
  for (const [k, v] of response.headers) res.setHeader(k, v);
  res.writeHead(response.status);
  res.end(out);
}

// ------------------------------------------------------------------- ready --
const shutdown = (signal) => {
  log.info("Received {signal}; shutting down", { signal });
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
};
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

log.info("Fedify {version} peer on Node {node}; actor {actor}; started in {ms} ms", {
  version: FEDIFY_VERSION, node: process.version, actor: `${ORIGIN}/users/${ACTOR}`,
  ms: Math.round(performance.now() - startedAt),
});
process.stdout.write(`READY ${ORIGIN}\n`);
