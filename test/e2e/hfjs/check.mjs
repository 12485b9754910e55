// test/e2e/hydrate_layout.sh: the official Hugging Face JS client against
// fakehub and against a volume the hydrator wrote with --layout hf-cache.
//   node check.mjs HUB_URL REPO REVISION JS_CACHE_DIR HYDRATED_DIR OUT.json
// snapshotDownload fetches REPO@REVISION into JS_CACHE_DIR (model info with
// expand, the recursive tree, paths-info per file, resolve with Range);
// scanCacheDir then reads both caches. The scans go to OUT.json (stdout
// carries the client's own debug lines).
import { writeFileSync } from "node:fs";
import { scanCacheDir, snapshotDownload } from "@huggingface/hub";

const [hubUrl, repo, revision, jsCache, hydrated, out] = process.argv.slice(2);
const snapshot = await snapshotDownload({ repo, revision, hubUrl, cacheDir: jsCache });
const view = (info) => ({
	warnings: info.warnings.map((w) => String(w)),
	repos: info.repos.map((r) => ({
		id: r.id,
		size: r.size,
		filesCount: r.filesCount,
		revisions: r.revisions.map((v) => ({
			commitOid: v.commitOid,
			refs: [...v.refs].sort(),
			size: v.size,
			files: v.files
				.map((f) => ({ name: f.path.slice(v.path.length + 1), size: f.blob.size, blob: f.blob.path.split("/").pop() }))
				.sort((a, b) => a.name.localeCompare(b.name)),
		})),
	})),
});
writeFileSync(
	out,
	JSON.stringify({ snapshot, js: view(await scanCacheDir(jsCache)), hydrated: view(await scanCacheDir(hydrated)) }, null, 1),
);
