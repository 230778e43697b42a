import { strictEqual } from "node:assert/strict";
import { VERSION } from "../version.ts";

Deno.test("VERSION equals deno.json's version, and CHANGELOG.md has an entry for it", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  strictEqual(VERSION, denoJson.version);
  const changelog = await Deno.readTextFile(new URL("../CHANGELOG.md", import.meta.url));
  strictEqual(changelog.includes(`## ${VERSION}`), true);
});
