// Large files: multipart init, one PUT per part (with progress and retries), complete.
// What was sent is kept in localStorage (upload id and part etags, never a token), keyed
// by the signed-in user and the file's name, size and modification time: after a page
// reload, choosing the same file again asks the server which parts it holds
// (GET /api/v1/upload/multipart/{uploadId}) and sends only the missing ones.

import { api, ApiError, upload } from "../api.js";
import { lost, sleep, transient } from "./direct.js";

const PREFIX = "pichr.upload.";
// Keys held by a transfer of this page: the same file added twice gets a record of its
// own instead of sending parts into the other's upload.
const claimed = new Set();
/** Waits before the 2nd, 3rd and 4th attempt of a part; then the row offers Resume. */
export const BACKOFF_MS = [500, 1500, 3000];

function keyOf(userId, file) {
  return `${PREFIX}${JSON.stringify([userId, file.name, file.size, file.lastModified])}`;
}

function load(key) {
  try {
    const text = localStorage.getItem(key);
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function save(record) {
  try {
    localStorage.setItem(record.key, JSON.stringify(record));
  } catch {
    // No storage (private mode, full): the upload works, only a reload cannot resume it.
  }
}

/** Forget a kept upload record. */
export function forget(record) {
  try {
    if (record) localStorage.removeItem(record.key);
  } catch {
    // nothing kept
  }
}

/** The unfinished multipart uploads kept for `userId` (newest first). */
export function unfinished(userId) {
  const found = [];
  try {
    for (let i = 0; i < localStorage.length; i += 1) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith(PREFIX)) continue;
      const record = load(key);
      if (record && record.userId === userId) found.push(record);
    }
  } catch {
    return [];
  }
  return found.sort((a, b) => b.savedAt - a.savedAt);
}

/** Drop a kept upload on the server (its parts are deleted) and here. */
export async function discard(record) {
  await api("/api/v1/upload/multipart/abort", { method: "POST", body: { uploadId: record.uploadId } }).catch(
    () => null,
  );
  forget(record);
}

/** A large file's upload. `run()` resolves to the stored File, rejects with
 * ConnectionLost when the parts kept failing (call `run()` again to resume), with an
 * AbortError after `cancel()`, or with the server's ApiError. */
export class MultipartTransfer {
  constructor(file, fields, { userId, partSize, onProgress, onStatus, onPart, onResumed }) {
    this.file = file;
    this.fields = fields;
    this.key = keyOf(userId, file);
    if (claimed.has(this.key)) this.key = `${this.key}#${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    claimed.add(this.key);
    this.userId = userId;
    this.partSize = partSize;
    this.onProgress = onProgress;
    this.onStatus = onStatus;
    this.onPart = onPart || (() => {});
    this.onResumed = onResumed || (() => {});
    this.resumedWith = 0;
    this.record = null;
    this.running = false;
    this.cancelled = false;
  }

  /** Start, or go on from what the server already holds. */
  async run() {
    this.controller = new AbortController();
    const signal = this.controller.signal;
    this.running = true;
    try {
      const ready = await this.prepare(signal);
      if (ready.stored) {
        this.finish();
        return ready.stored;
      }
      await this.sendParts(ready.parts, signal);
      this.onStatus("Joining the parts…");
      const parts = Object.entries(ready.parts).map(([n, etag]) => ({ partNumber: Number(n), etag }));
      const { uploadId, fileId } = this.record;
      const stored = await api("/api/v1/upload/multipart/complete", {
        method: "POST",
        body: { uploadId, fileId, parts },
        signal,
      });
      this.finish();
      return stored;
    } catch (err) {
      if (err.name === "AbortError") {
        if (this.cancelled) await this.dropOnServer();
        throw err;
      }
      if (transient(err)) throw lost(err);
      throw err;
    } finally {
      this.running = false;
    }
  }

  /** The parts the server holds ({partNumber: etag}), after a new init if there is no
   * kept upload (or the server no longer knows it); or {stored} when it is complete. */
  async prepare(signal) {
    let record = this.record || (this.key.includes("#") ? null : load(this.key));
    if (record) {
      let status = null;
      try {
        status = await api(`/api/v1/upload/multipart/${encodeURIComponent(record.uploadId)}`, { signal });
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      }
      if (status && status.status === "completed") {
        this.record = record;
        return { stored: await api(`/api/v1/files/${encodeURIComponent(status.fileId)}`, { signal }) };
      }
      if (status && status.totalBytes === this.file.size) {
        Object.assign(record, { partSize: status.partSize, partCount: status.partCount });
        const parts = Object.fromEntries(status.parts.map((p) => [p.partNumber, p.etag]));
        this.record = record;
        this.resumedWith = status.parts.length;
        if (this.resumedWith) this.onResumed(this.resumedWith, record.partCount);
        return { parts };
      }
      forget(record); // gone from the server (expired, aborted): start again
    }
    const init = await api("/api/v1/upload/multipart/init", {
      method: "POST",
      body: {
        ...this.fields,
        filename: this.file.name,
        mime: this.file.type || "application/octet-stream",
        totalBytes: this.file.size,
        partSize: this.partSize,
      },
      signal,
    });
    record = {
      key: this.key,
      userId: this.userId,
      uploadId: init.uploadId,
      fileId: init.fileId,
      name: this.file.name,
      size: this.file.size,
      lastModified: this.file.lastModified,
      partSize: init.partSize,
      partCount: init.partCount,
      parts: {},
      savedAt: Date.now(),
    };
    this.record = record;
    save(record);
    return { parts: {} };
  }

  /** Send the parts not yet in `parts`, one after the other, recording each etag. */
  async sendParts(parts, signal) {
    const { partSize, partCount } = this.record;
    const size = this.file.size;
    const lengthOf = (n) => Math.min(size, n * partSize) - (n - 1) * partSize;
    let sent = 0;
    for (let n = 1; n <= partCount; n += 1) if (parts[n]) sent += lengthOf(n);
    this.onProgress(sent, size);
    for (let n = 1; n <= partCount; n += 1) {
      if (parts[n]) continue;
      const start = (n - 1) * partSize;
      const blob = this.file.slice(start, start + lengthOf(n));
      const base = sent;
      const held = this.resumedWith ? ` (resumed: ${this.resumedWith} already on the server)` : "";
      this.onStatus(`Uploading part ${n} of ${partCount}${held}…`);
      parts[n] = await this.sendPart(n, blob, (loaded) => this.onProgress(base + loaded, size), signal);
      sent += blob.size;
      this.record.parts = parts;
      this.record.savedAt = Date.now();
      save(this.record);
      this.onProgress(sent, size);
      this.onPart(n, partCount);
    }
  }

  /** PUT one part; a dropped connection or a passing server error is retried after
   * BACKOFF_MS, then reported as ConnectionLost. Answers the part's etag. */
  async sendPart(n, blob, onProgress, signal) {
    const url = `/api/v1/upload/multipart/${encodeURIComponent(this.record.uploadId)}/parts/${n}`;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const answer = await upload(url, {
          method: "PUT",
          body: blob,
          headers: { "Content-Type": "application/octet-stream" },
          onProgress,
          signal,
        });
        return answer.etag;
      } catch (err) {
        if (err.name === "AbortError" || !transient(err)) throw err;
        if (attempt >= BACKOFF_MS.length) throw lost(err);
        const wait = BACKOFF_MS[attempt];
        this.onStatus(
          `Connection lost at part ${n}; trying again in ${Math.ceil(wait / 1000)} s ` +
            `(attempt ${attempt + 2} of ${BACKOFF_MS.length + 1})`,
        );
        await sleep(wait, signal);
      }
    }
  }

  /** Stop; the server deletes the parts sent so far. */
  async cancel() {
    this.cancelled = true;
    if (this.running) this.controller.abort();
    else await this.dropOnServer();
  }

  async dropOnServer() {
    if (this.record) await discard(this.record);
    this.record = null;
    claimed.delete(this.key);
  }

  finish() {
    forget(this.record);
    claimed.delete(this.key);
  }
}
