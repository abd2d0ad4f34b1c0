// The stack's mail, read from the Maildir its SMTP server keeps (NOVA_MAILDIR),
// the way a user opens the reset mail in their inbox.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { eventually } from "./stream.mjs";

/** The code of the reset mail `address` received (the first one; wait up to 10 s). */
export async function resetCodeFor(address) {
  const maildir = process.env.NOVA_MAILDIR;
  if (!maildir) throw new Error("NOVA_MAILDIR is not set: the test names the stack's Maildir");
  const inbox = join(maildir, "new");
  return eventually(
    `a reset mail to ${address}`,
    async () => {
      const names = await readdir(inbox).catch(() => []);
      for (const name of names) {
        const text = await readFile(join(inbox, name), "utf8");
        const lines = text.split(/\r?\n/);
        if (!lines.some((line) => line.toLowerCase() === `to: ${address}`.toLowerCase())) continue;
        const code = lines.find((line) => line.startsWith("Or enter this code: "));
        if (code) return code.slice("Or enter this code: ".length).trim();
      }
      return undefined;
    },
    10_000,
  );
}
