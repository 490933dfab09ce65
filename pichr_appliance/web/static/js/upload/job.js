// One file's upload on the upload page: its row, its transfer (direct or multipart by
// size) and what the row shows and the page announces at each step.

import { ApiError } from "../api.js";
import { announce } from "../ui.js";
import { DirectTransfer } from "./direct.js";
import { MultipartTransfer } from "./multipart.js";
import { FileRow } from "./row.js";

/** A file's default title: its name without the extension. */
export function titleOf(name) {
  return (name.replace(/\.[^./\\]+$/, "") || name).slice(0, 200);
}

/** Announce each quarter of a large file's parts once. */
function milestones(name) {
  let said = 0;
  return (n, count) => {
    const quarter = Math.floor((n / count) * 4);
    if (quarter > said && quarter < 4) {
      said = quarter;
      announce(`${name}: ${quarter * 25}% uploaded`);
    }
  };
}

/** The job of `file` with the upload `fields`: `{row, big, attempt}`. `attempt()`
 * runs the transfer (queue it); the row's Resume and Cancel buttons drive it after. */
export function fileJob(file, fields, { userId, threshold, partSize }) {
  const own = { ...fields, title: fields.title || titleOf(file.name) };
  const big = file.size > threshold;
  let running = false;
  let cancelled = false;
  const row = new FileRow(file, { onCancel: () => cancel(), onResume: () => attempt() });
  const hooks = {
    onProgress: (loaded, total) => row.progress(loaded, total),
    onStatus: (text) => row.state("uploading", text),
  };
  const transfer = big
    ? new MultipartTransfer(file, own, {
        ...hooks,
        userId,
        partSize,
        onPart: milestones(file.name),
        onResumed: (held, count) => announce(`${file.name}: resuming, ${held} of ${count} parts were already uploaded`),
      })
    : new DirectTransfer(file, own, hooks);
  const failed = (err) => {
    if (err.name === "AbortError") {
      row.state("cancelled", "Cancelled");
      announce(`${file.name}: upload cancelled`);
    } else if (err.name === "ConnectionLost") {
      const kept = big ? " The parts sent so far are kept." : "";
      row.paused(`${err.message}.${kept}`, big ? "Resume" : "Retry");
      announce(`${file.name}: ${err.message}`, "error");
    } else if (err instanceof ApiError) {
      row.state("failed", `Refused: ${err.message}`);
      announce(`${file.name} was refused: ${err.message}`, "error");
    } else {
      console.error(err);
      row.state("failed", `Failed: ${err.message}`);
      announce(`${file.name} failed: ${err.message}`, "error");
    }
  };
  const attempt = async () => {
    if (cancelled) return;
    running = true;
    row.state("uploading", "Starting…");
    try {
      row.done(await transfer.run());
      announce(`${file.name} uploaded`, "success");
    } catch (err) {
      failed(err);
    } finally {
      running = false;
    }
  };
  const cancel = async () => {
    cancelled = true;
    await transfer.cancel();
    if (!running) failed(new DOMException("Upload cancelled", "AbortError"));
  };
  return { row, big, attempt };
}
