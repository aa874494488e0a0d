#!/usr/bin/env node
// Self-test of the Fedify interop peer harness (no congregation server needed).
//
//   cd tests/interop && npm ci && node selftest.mjs
//
// 1. Starts two peers (A, B) on ephemeral ports; A follows B through the
//    control API; checks B recorded a verified Follow, A recorded a verified
//    Accept that matches its Follow, and the follower/following state.
// 2. A looks B up by acct: handle (WebFinger over plain http).
// 3. Negative: an unsigned Follow and a Follow signed with the wrong key are
//    refused by Fedify (401) and never reach the listeners.
// 4. "Plain" remote: a hand-rolled actor (node:crypto only, RSA 2048, HTTP
//    Signatures draft-cavage, no LD signature, no proof -- what a minimal
//    server sends) follows B. B must verify it by HTTP signature alone, and
//    its Accept must reach the plain inbox: first knock RFC 9421 (we answer
//    401), second knock draft-cavage, which we verify with B's public key.
// 5. A unfollows B (Undo Follow) and B drops the follower.
// Exits 0 and prints "N passed, 0 failed" when everything works.

import { spawn } from "node:child_process";
import http from "node:http";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(new URL(".", import.meta.url));
let passed = 0;
let failed = 0;
const children = [];

function check(name, cond, detail) {
  if (cond) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail === undefined ? "" : `: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`}`);
  }
}

function startPeer(name, env = {}) {
  const t0 = Date.now();
  const child = spawn(process.execPath, ["fedify_peer.mjs", "0"], {
    cwd: HERE,
    env: { ...process.env, PEER_LOG_LEVEL: process.env.PEER_LOG_LEVEL ?? "warning", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`${name}: no READY within 30 s`)), 30_000);
    child.stdout.on("data", (d) => {
      buf += d;
      const m = /^READY (\S+)$/m.exec(buf);
      if (m) {
        clearTimeout(timer);
        console.log(`#    peer ${name} ready at ${m[1]} after ${Date.now() - t0} ms`);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`${name} exited with ${code}`)); });
  });
}

async function api(base, method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text, headers: r.headers };
}

async function waitFor(fn, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------- plain remote --
// Minimal ActivityPub actor with draft-cavage HTTP Signatures (RSA-SHA256).
function startPlainRemote() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" });
  const received = []; // { headers, body, status, verified }
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const base = `http://${req.headers.host}`;
    if (req.method === "GET" && req.url === "/actors/plain") {
      res.writeHead(200, { "Content-Type": "application/activity+json" });
      return res.end(JSON.stringify({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        id: `${base}/actors/plain`, type: "Person", preferredUsername: "plain",
        inbox: `${base}/actors/plain/inbox`, outbox: `${base}/actors/plain/outbox`,
        followers: `${base}/actors/plain/followers`,
        publicKey: { id: `${base}/actors/plain#main-key`, owner: `${base}/actors/plain`, publicKeyPem },
      }));
    }
    if (req.method === "POST" && req.url === "/actors/plain/inbox") {
      const entry = { headers: req.headers, body: JSON.parse(body.toString("utf8")), status: 0, verified: false };
      received.push(entry);
      if (req.headers["signature-input"]) {
        // Pretend we only speak draft-cavage: refuse RFC 9421 so Fedify double-knocks.
        entry.status = 401;
        res.writeHead(401);
        return res.end("RFC 9421 not supported here");
      }
      try {
        entry.verified = await verifyCavage(req, body);
      } catch (e) {
        entry.error = String(e);
      }
      entry.status = entry.verified ? 202 : 401;
      res.writeHead(entry.status);
      return res.end();
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    const base = `http://127.0.0.1:${server.address().port}`;
    resolve({ base, actorId: `${base}/actors/plain`, keyId: `${base}/actors/plain#main-key`, privateKey, received, server });
  }));
}

async function verifyCavage(req, body) {
  const sig = Object.fromEntries([...req.headers.signature.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  const digest = `SHA-256=${crypto.createHash("sha256").update(body).digest("base64")}`;
  if (req.headers.digest !== digest) throw new Error(`digest mismatch ${req.headers.digest}`);
  const signingString = sig.headers.split(" ").map((h) =>
    h === "(request-target)" ? `(request-target): ${req.method.toLowerCase()} ${req.url}` : `${h}: ${req.headers[h]}`).join("\n");
  const actorUrl = sig.keyId.replace(/#.*$/, "");
  const actor = await (await fetch(actorUrl, { headers: { Accept: "application/activity+json" } })).json();
  return crypto.verify("sha256", Buffer.from(signingString), actor.publicKey.publicKeyPem, Buffer.from(sig.signature, "base64"));
}

async function postSignedCavage(remote, inboxUrl, activity, signingKey = remote.privateKey) {
  const body = Buffer.from(JSON.stringify(activity));
  const url = new URL(inboxUrl);
  const date = new Date().toUTCString();
  const digest = `SHA-256=${crypto.createHash("sha256").update(body).digest("base64")}`;
  const signingString = [
    `(request-target): post ${url.pathname}`, `host: ${url.host}`, `date: ${date}`, `digest: ${digest}`,
  ].join("\n");
  const signature = crypto.sign("sha256", Buffer.from(signingString), signingKey).toString("base64");
  const r = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/activity+json", Date: date, Digest: digest,
      Signature: `keyId="${remote.keyId}",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="${signature}"`,
    },
    body,
  });
  return { status: r.status, text: await r.text() };
}

// ------------------------------------------------------------------- main --
async function main() {
  const [A, B] = await Promise.all([startPeer("A"), startPeer("B")]);
  const actorB = `${B}/users/peer`;

  // 1. A follows B
  const f = await api(A, "POST", "/_control/follow", { target: actorB });
  check("A's Follow delivered to B (control API 200)", f.status === 200 && f.json?.followId, f.text);
  const followId = f.json?.followId;
  const bFollow = await waitFor(async () =>
    (await api(B, "GET", "/_control/events?type=Follow")).json.find((e) => e.id === followId));
  check("B recorded a verified Follow from A", bFollow?.verified === true && bFollow.actor === `${A}/users/peer`, bFollow);
  const aAccept = await waitFor(async () =>
    (await api(A, "GET", "/_control/events?type=Accept")).json.find((e) => e.object === followId));
  check("A recorded a verified Accept of its Follow", aAccept?.verified === true && aAccept.actor === actorB
    && aAccept.matchedBy === "id" && aAccept.actorMatchesTarget === true, aAccept);
  check("the Accept embeds the Follow", aAccept?.activity?.object?.id === followId, aAccept?.activity);
  const following = (await api(A, "GET", "/_control/following")).json;
  check("A's following state is 'accepted'", following.some((x) => x.followId === followId && x.state === "accepted"), following);
  const followers = (await api(B, "GET", "/_control/followers")).json;
  check("B lists A as a follower", followers.some((x) => x.id === `${A}/users/peer`), followers);

  // 2. acct: lookup through WebFinger over http
  const hostB = new URL(B).host;
  const lk = await api(A, "GET", `/_control/lookup?q=${encodeURIComponent(`acct:peer@${hostB}`)}`);
  check("lookup acct:peer@host resolves via http WebFinger", lk.status === 200 && lk.json?.id === actorB
    && /webfinger\(http\)/.test(lk.headers.get("x-resolved-via") ?? ""), { status: lk.status, via: lk.headers.get("x-resolved-via") });
  const missing = await api(A, "GET", `/_control/lookup?q=${encodeURIComponent(`${B}/users/nobody`)}`);
  check("lookup of a missing actor answers 404", missing.status === 404, missing.status);

  // 3. negative: unsigned and wrongly-signed activities are refused
  const before = (await api(B, "GET", "/_control/events")).json.length;
  const fakeFollow = {
    "@context": "https://www.w3.org/ns/activitystreams", id: `${A}/activities/forged-1`, type: "Follow",
    actor: `${A}/users/peer`, object: actorB,
  };
  const unsigned = await fetch(`${B}/users/peer/inbox`, {
    method: "POST", headers: { "Content-Type": "application/activity+json" }, body: JSON.stringify(fakeFollow),
  });
  check("unsigned Follow is refused with 401", unsigned.status === 401, unsigned.status);
  const plain = await startPlainRemote();
  const wrongKey = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const forged = await postSignedCavage(plain, `${B}/users/peer/inbox`,
    { ...fakeFollow, id: `${plain.base}/activities/forged-2`, actor: plain.actorId }, wrongKey);
  check("Follow signed with the wrong key is refused with 401", forged.status === 401, forged);
  const after = (await api(B, "GET", "/_control/events")).json.length;
  check("refused activities never reached the listeners", after === before, { before, after });
  const log = (await api(B, "GET", "/_control/inbox-log")).json;
  check("inbox-log shows the refusals", log.filter((e) => e.status === 401).length >= 2, log.map((e) => e.status));

  // 4. plain (HTTP-signature-only, draft-cavage) remote follows B
  const plainFollowId = `${plain.base}/activities/follow-1`;
  const pf = await postSignedCavage(plain, `${B}/users/peer/inbox`, {
    "@context": "https://www.w3.org/ns/activitystreams", id: plainFollowId, type: "Follow",
    actor: plain.actorId, object: actorB,
  });
  check("draft-cavage-signed Follow accepted by Fedify (202)", pf.status === 202, pf);
  const bPlainFollow = await waitFor(async () =>
    (await api(B, "GET", "/_control/events?type=Follow")).json.find((e) => e.id === plainFollowId));
  check("B recorded it as verified, signature scheme draft-cavage, no proof/LD signature",
    bPlainFollow?.verified === true && bPlainFollow.signature?.scheme === "draft-cavage"
    && !bPlainFollow.signature.integrityProof && !bPlainFollow.signature.ldSignature, bPlainFollow);
  const got = await waitFor(() => {
    const ok = plain.received.find((r) => r.status === 202);
    return ok ? plain.received : null;
  });
  const knocks = (got ?? plain.received).map((r) => ({
    scheme: r.headers["signature-input"] ? "rfc9421" : r.headers.signature ? "draft-cavage" : "none", status: r.status,
  }));
  if (process.env.PEER_FIRST_KNOCK === "draft-cavage-http-signatures-12") {
    check("B's Accept: single draft-cavage knock (PEER_FIRST_KNOCK), verified",
      knocks.length === 1 && knocks[0].scheme === "draft-cavage" && knocks[0].status === 202, knocks);
  } else {
    check("B's Accept: first knock RFC 9421 (refused), then draft-cavage (verified)",
      knocks.length === 2 && knocks[0].scheme === "rfc9421" && knocks[0].status === 401
      && knocks[1].scheme === "draft-cavage" && knocks[1].status === 202, knocks);
  }
  const acceptBody = got?.find((r) => r.status === 202)?.body;
  check("Accept from B names B as actor and embeds the plain Follow",
    acceptBody?.type === "Accept" && acceptBody.actor === actorB && acceptBody.object?.id === plainFollowId, acceptBody);
  const deliveries = (await api(B, "GET", "/_control/deliveries")).json;
  check("B's delivery log shows the Accept as delivered",
    deliveries.some((d) => d.type === "Accept" && d.to === plain.actorId && d.ok === true), deliveries);
  plain.server.close();

  // 5. A unfollows B
  const uf = await api(A, "POST", "/_control/unfollow", { target: actorB });
  check("A's Undo(Follow) delivered", uf.status === 200, uf.text);
  const bUndo = await waitFor(async () =>
    (await api(B, "GET", "/_control/events?type=Undo")).json.find((e) => e.id === uf.json?.undoId));
  check("B recorded a verified Undo of A's Follow", bUndo?.verified === true && bUndo.object === followId, bUndo);
  const followers2 = (await api(B, "GET", "/_control/followers")).json;
  check("B no longer lists A as a follower", !followers2.some((x) => x.id === `${A}/users/peer`), followers2);
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`FAIL unexpected error: ${e?.stack ?? e}`);
} finally {
  for (const c of children) c.kill("SIGTERM");
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
