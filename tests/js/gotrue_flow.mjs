// The real supabase-js (the version pinned in package-lock.json) against a live
// appliance: the auth flow, the guide's uploadImage/listImages with the session's
// token, and bad input. Prints one JSON object with what each step saw; the
// assertions are in tests/test_gotrue_js.py.
//
//   PICHR_URL=http://127.0.0.1:8787 PICHR_ANON_KEY=... PICHR_IMAGE=cat.png node gotrue_flow.mjs
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

import { AuthApiError, createClient } from '@supabase/supabase-js';
import ws from 'ws';

import { guideFunctions } from './guide.mjs';

const URL_ = process.env.PICHR_URL;
const KEY = process.env.PICHR_ANON_KEY;
const IMAGE = process.env.PICHR_IMAGE;
const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a brand new passphrase';
const stamp = Date.now().toString(36);
const email = `node.${stamp}@example.com`;

// Node 20 has no WebSocket of its own: the realtime client needs one at createClient.
const options = { realtime: { transport: ws }, auth: { autoRefreshToken: false } };

function client(key = KEY, fetchImpl = undefined) {
  const extra = fetchImpl ? { global: { fetch: fetchImpl } } : {};
  return createClient(URL_, key, { ...options, ...extra });
}

// What the application sees of an error, plus whether it is the class it should be.
function seen(error) {
  if (!error) return null;
  return {
    name: error.name,
    status: error.status,
    code: error.code ?? null,
    message: error.message,
    isAuthApiError: error instanceof AuthApiError,
    reasons: error.reasons ?? null,
  };
}

function sessionFacts(session) {
  if (!session) return null;
  return {
    keys: Object.keys(session).sort(),
    tokenType: session.token_type,
    expiresIn: session.expires_in,
    expiresAt: session.expires_at,
    userId: session.user?.id ?? null,
  };
}

async function v1Me(token) {
  const res = await fetch(`${URL_}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

async function flow(out) {
  const supabase = client();

  const signUp = await supabase.auth.signUp({
    email,
    password: PASSWORD,
    options: { data: { display_name: 'Node' } },
  });
  out.signUp = {
    error: seen(signUp.error),
    session: sessionFacts(signUp.data.session),
    userId: signUp.data.user?.id ?? null,
    metadata: signUp.data.user?.user_metadata ?? null,
  };
  const stored = await supabase.auth.getSession();
  out.signUp.storedByClient = stored.data.session?.access_token === signUp.data.session?.access_token;

  const getUser = await supabase.auth.getUser();
  out.getUser = { error: seen(getUser.error), id: getUser.data.user?.id ?? null, email: getUser.data.user?.email };

  const signIn = await supabase.auth.signInWithPassword({ email, password: PASSWORD });
  out.signIn = { error: seen(signIn.error), session: sessionFacts(signIn.data.session), weakPassword: signIn.data.weakPassword ?? null };

  const meta = await supabase.auth.updateUser({ data: { theme: 'dark', display_name: null } });
  out.updateData = { error: seen(meta.error), metadata: meta.data.user?.user_metadata ?? null };
  const noCurrent = await supabase.auth.updateUser({ password: NEW_PASSWORD });
  out.updatePasswordWithoutCurrent = seen(noCurrent.error);
  const changed = await supabase.auth.updateUser({ password: NEW_PASSWORD, current_password: PASSWORD });
  out.updatePassword = { error: seen(changed.error) };
  out.oldPasswordAfterChange = seen((await client().auth.signInWithPassword({ email, password: PASSWORD })).error);

  // Rotation: a new pair each time; the old refresh token is single-use.
  const before = (await supabase.auth.getSession()).data.session;
  const refreshed = await supabase.auth.refreshSession();
  const after = refreshed.data.session;
  out.refresh = {
    error: seen(refreshed.error),
    rotated: Boolean(after && after.refresh_token !== before.refresh_token),
    userId: refreshed.data.user?.id ?? null,
  };
  const reuse = await client().auth.refreshSession({ refresh_token: before.refresh_token });
  out.reuse = seen(reuse.error);
  // The reuse revoked the whole session: its newest tokens stop working too.
  out.afterReuse = {
    refresh: seen((await client().auth.refreshSession({ refresh_token: after.refresh_token })).error),
    getUser: seen((await supabase.auth.getUser(after.access_token)).error),
    v1Status: (await v1Me(after.access_token)).status,
  };

  // A new session, then the guide's own functions with its token.
  const again = await supabase.auth.signInWithPassword({ email, password: NEW_PASSWORD });
  out.signInAgain = { error: seen(again.error) };
  const token = again.data.session.access_token;
  const { uploadImage, listImages } = guideFunctions(URL_);
  const file = new File([readFileSync(IMAGE)], basename(IMAGE), { type: 'image/png' });
  const fileId = await uploadImage(file, token);
  const listing = await listImages(token);
  out.guide = { fileId, listedIds: (listing.files ?? []).map((f) => f.id), ownerIds: (listing.files ?? []).map((f) => f.ownerId), total: listing.total };
  out.v1MeWithSessionToken = (await v1Me(token)).body.user?.email ?? null;

  const signOut = await supabase.auth.signOut();
  out.signOut = {
    error: seen(signOut.error),
    clientSession: (await supabase.auth.getSession()).data.session,
    getUserWithOldToken: seen((await client().auth.getUser(token)).error),
    v1Status: (await v1Me(token)).status,
  };
}

// A fetch that changes one thing about what the client sends, to see how the client
// takes the server's answer to it.
function tampered(change) {
  return (input, init = {}) => {
    const request = { url: String(input), headers: new Headers(init.headers), body: init.body };
    change(request);
    return fetch(request.url, { ...init, headers: request.headers, body: request.body });
  };
}

async function badInput(out) {
  out.bad = {};
  const creds = { email, password: NEW_PASSWORD };
  out.bad.wrongApiKey = seen((await client('not-this-servers-key').auth.signInWithPassword(creds)).error);
  const noKey = client(KEY, tampered((r) => r.headers.delete('apikey')));
  out.bad.missingApiKey = seen((await noKey.auth.signInWithPassword(creds)).error);
  const malformed = client(KEY, tampered((r) => { r.body = '{"email": '; }));
  out.bad.malformedBody = seen((await malformed.auth.signInWithPassword(creds)).error);
  const notObject = client(KEY, tampered((r) => { r.body = '[1, 2]'; }));
  out.bad.bodyNotAnObject = seen((await notObject.auth.signUp({ email: `arr.${email}`, password: PASSWORD })).error);
  const grant = client(KEY, tampered((r) => { r.url = r.url.replace('grant_type=password', 'grant_type=magic_link'); }));
  out.bad.unknownGrantType = seen((await grant.auth.signInWithPassword(creds)).error);
  out.bad.weakPassword = seen((await client().auth.signUp({ email: `weak.${email}`, password: 'short' })).error);
  out.bad.duplicateEmail = seen((await client().auth.signUp({ email: email.toUpperCase(), password: PASSWORD })).error);
  out.bad.wrongPassword = seen((await client().auth.signInWithPassword({ email, password: 'wrong horse battery' })).error);
  // flowType 'pkce' sends a code challenge with signUp; the session still comes back.
  const pkce = createClient(URL_, KEY, { ...options, auth: { ...options.auth, flowType: 'pkce' } });
  const pkceSignUp = await pkce.auth.signUp({ email: `pkce.${email}`, password: PASSWORD });
  out.pkceSignUp = { error: seen(pkceSignUp.error), session: Boolean(pkceSignUp.data.session) };
  out.bad.invalidEmail = seen((await client().auth.signUp({ email: 'not-an-address', password: PASSWORD })).error);
}

const out = { node: process.version };
try {
  await flow(out);
  await badInput(out);
} catch (error) {
  out.crash = { name: error?.name, message: String(error?.message ?? error), stack: String(error?.stack ?? '') };
}
console.log(JSON.stringify(out));
