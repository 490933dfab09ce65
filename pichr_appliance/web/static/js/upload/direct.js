// Small files: presign, PUT the bytes to the returned upload URL (with progress), then
// finalize, which answers the File (and does the processing for a bucket upload).

import { api, ApiError, upload } from "../api.js";

/** Raised when the connection failed after the retries: the transfer can go on later. */
export class ConnectionLost extends Error {
  constructor(message = "The connection was lost") {
    super(message);
    this.name = "ConnectionLost";
  }
}

/** Whether `err` is a dropped connection or a passing server trouble (worth a retry),
 * rather than the server refusing the request. */
export function transient(err) {
  if (err instanceof ConnectionLost) return true;
  if (err instanceof ApiError) return err.status === 0 || err.status === 408 || err.status === 429 || err.status >= 500;
  return err instanceof TypeError; // fetch's "Failed to fetch"
}

/** A ConnectionLost for `err`, keeping the server's words when it answered. */
export function lost(err) {
  if (err instanceof ConnectionLost) return err;
  return new ConnectionLost(err instanceof ApiError && err.status ? err.message : undefined);
}

/** Wait `ms`, or reject with an AbortError as soon as `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(timer);
      reject(new DOMException("Upload cancelled", "AbortError"));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, ms);
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
  });
}

/** The appliance's own upload URLs through this page's origin (the configured public
 * URL may name another host than the one in the address bar; the CSP allows only
 * this origin). A storage bucket's presigned URL is left as it is. */
export function viaThisOrigin(url) {
  const parsed = new URL(url, location.origin);
  if (parsed.pathname.startsWith("/api/v1/upload/")) return `${parsed.pathname}${parsed.search}`;
  return parsed.href;
}

/** A small file's upload: `run()` resolves to the stored File; `cancel()` stops it. */
export class DirectTransfer {
  constructor(file, fields, { onProgress }) {
    this.file = file;
    this.fields = fields;
    this.onProgress = onProgress;
    this.presigned = null;
    this.controller = null;
  }

  /** Presign (once), send the bytes, finalize. A retry after a lost connection sends
   * the bytes again to the same upload. */
  async run() {
    this.controller = new AbortController();
    const signal = this.controller.signal;
    const mime = this.file.type || "application/octet-stream";
    try {
      if (!this.presigned) {
        this.presigned = await api("/api/v1/upload/presign", {
          method: "POST",
          body: { ...this.fields, filename: this.file.name, mime, bytes: this.file.size },
          signal,
        });
      }
      const { uploadId, fileId, uploadUrl } = this.presigned;
      try {
        await upload(viaThisOrigin(uploadUrl), {
          method: "PUT",
          body: this.file,
          headers: { "Content-Type": mime },
          onProgress: this.onProgress,
          signal,
        });
      } catch (err) {
        // 409: the bytes of an earlier attempt did arrive; finalize answers the File.
        if (!(err instanceof ApiError && err.status === 409)) throw err;
      }
      return await api("/api/v1/upload/finalize", { method: "POST", body: { uploadId, fileId }, signal });
    } catch (err) {
      if (err.name !== "AbortError" && transient(err)) throw lost(err);
      throw err;
    }
  }

  /** Stop sending (the server drops a presigned upload whose bytes never arrive). */
  async cancel() {
    if (this.controller) this.controller.abort();
  }
}
