/**
 * Scale benchmark (issue 18): `pnpm bench:scale [--clients 16] [--mb 2] [--layers 2]
 * [--rounds 2] [--only disk|s3] [--deadline-s 1500]`.
 *
 * `clients` concurrent clients, each its own account, push and then pull distinct images
 * of random layers (made in memory) through the registry HTTP API, the way skopeo does:
 * POST, one PATCH with the layer, PUT ?digest= per blob, then the manifest; a pull reads the
 * manifest and every blob, following redirects, and checks each digest. Against one and then
 * two server processes (the clients split between them, as a balancer with keep-alive
 * would), with blobs on disk and on S3 (moto_server, started here) with and without
 * redirects. Prints one table: MB/s of each phase (all clients at once), p99 of one image's
 * push or pull, and the CPU seconds the server processes spent per 100 MB.
 *
 * moto_server is a Python process keeping objects in memory and one request at a time in
 * practice: the S3 rows measure moto as much as Berth. Every wait is bounded; everything is
 * on 127.0.0.1.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  basic,
  cpuSeconds,
  freshDatabase,
  HttpError,
  type Image,
  OCI_MANIFEST,
  pullImage,
  randomImage,
  type ServiceProcess,
  scriptOptions,
  setupAccounts,
  sha256,
  startPostgres,
  startServerProcess,
} from "@berth/harness";
import { startMoto } from "@berth/registry/testing";

const args = scriptOptions({
  clients: 16,
  mb: 2,
  layers: 2,
  rounds: 2,
  only: null,
  "deadline-s": 1500,
});
const { clients: CLIENTS, mb: MB, layers: LAYERS, rounds: ROUNDS } = args;
const DEADLINE = Date.now() + args["deadline-s"] * 1000;
if (![CLIENTS, MB, LAYERS, ROUNDS].every((n) => Number.isInteger(n) && n > 0) || CLIENTS > 64) {
  console.error("bench:scale: --clients (1-64), --mb, --layers, --rounds are whole numbers > 0");
  process.exit(2);
}
const REQUEST_TIMEOUT_MS = 300_000;

interface Config {
  name: string;
  processes: number;
  storage: "disk" | "s3";
  redirects?: boolean;
}

const configs: Config[] = [
  { name: "disk", processes: 1, storage: "disk" },
  { name: "disk", processes: 2, storage: "disk" },
  { name: "s3, redirects", processes: 1, storage: "s3", redirects: true },
  { name: "s3, redirects", processes: 2, storage: "s3", redirects: true },
  { name: "s3, no redirects", processes: 1, storage: "s3", redirects: false },
  { name: "s3, no redirects", processes: 2, storage: "s3", redirects: false },
].filter((c) => !args.only || c.storage === args.only) as Config[];

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? 0;
}

function remaining(): number {
  const left = DEADLINE - Date.now();
  if (left <= 0) throw new Error("bench:scale: past its deadline (--deadline-s)");
  return Math.min(left, REQUEST_TIMEOUT_MS);
}

async function expectStatus(res: Response, status: number, what: string): Promise<Response> {
  if (res.status !== status) throw new HttpError(res.status, await res.text(), what);
  return res;
}

/** A blob the way skopeo sends one: POST, one PATCH with the bytes, PUT ?digest=. */
async function pushBlob(base: string, repo: string, bytes: Buffer, auth: string): Promise<void> {
  const signal = () => AbortSignal.timeout(remaining());
  const start = await expectStatus(
    await fetch(`${base}/v2/${repo}/blobs/uploads/`, {
      method: "POST",
      headers: { authorization: auth },
      signal: signal(),
    }),
    202,
    `upload start in ${repo}`,
  );
  await start.arrayBuffer();
  const patched = await expectStatus(
    await fetch(new URL(start.headers.get("location")!, base), {
      method: "PATCH",
      headers: { authorization: auth, "content-type": "application/octet-stream" },
      body: bytes,
      signal: signal(),
    }),
    202,
    `PATCH in ${repo}`,
  );
  await patched.arrayBuffer();
  const put = new URL(patched.headers.get("location")!, base);
  put.searchParams.set("digest", sha256(bytes));
  await (
    await expectStatus(
      await fetch(put, { method: "PUT", headers: { authorization: auth }, signal: signal() }),
      201,
      `PUT in ${repo}`,
    )
  ).arrayBuffer();
}

async function pushImage(base: string, repo: string, image: Image, auth: string): Promise<void> {
  for (const blob of [image.config, ...image.layers]) await pushBlob(base, repo, blob, auth);
  await (
    await expectStatus(
      await fetch(`${base}/v2/${repo}/manifests/v1`, {
        method: "PUT",
        headers: { authorization: auth, "content-type": OCI_MANIFEST },
        body: image.manifest,
        signal: AbortSignal.timeout(remaining()),
      }),
      201,
      `manifest PUT in ${repo}`,
    )
  ).arrayBuffer();
}

interface Row {
  config: Config;
  pushMBs: number;
  pushP99: number;
  pullMBs: number;
  pullP99: number;
  cpuPer100MB: number;
}

async function runConfig(
  config: Config,
  databaseUrl: string,
  moto: Awaited<ReturnType<typeof startMoto>> | undefined,
): Promise<Row> {
  const storageEnv: Record<string, string> =
    config.storage === "s3"
      ? {
          ...moto!.env,
          BERTH_STORAGE: `s3://${await moto!.bucket()}/bench`,
          BERTH_BLOB_REDIRECTS: config.redirects ? "on" : "off",
        }
      : { BERTH_STORAGE: mkdtempSync(join(tmpdir(), "berth-scale-blobs-")) };
  const secret = randomBytes(32).toString("hex");
  const servers: ServiceProcess[] = [];
  try {
    for (let i = 0; i < config.processes; i++) {
      servers.push(
        await startServerProcess({
          databaseUrl,
          dataDir: mkdtempSync(join(tmpdir(), "berth-scale-")),
          logLevel: "warn",
          readyTimeoutMs: 180_000,
          env: { ...storageEnv, BERTH_TOKEN_SECRET: secret },
        }),
      );
    }
    const setup = await setupAccounts(databaseUrl, servers[0]!.url, "scale", CLIENTS);
    await setup.close();
    const perImage = Math.round((MB * 1024 * 1024) / LAYERS);
    const images = setup.actors.map(() =>
      Array.from({ length: ROUNDS }, () => randomImage(Array(LAYERS).fill(perImage))),
    );
    const bytesOf = (image: Image) =>
      image.config.length +
      image.manifest.length +
      image.layers.reduce((sum, l) => sum + l.length, 0);
    const totalBytes = images.flat().reduce((sum, image) => sum + bytesOf(image), 0);
    const cpu = () => servers.reduce((sum, s) => sum + cpuSeconds(s.pid), 0);

    const phase = async (run: (client: number, round: number, base: string) => Promise<void>) => {
      const times: number[] = [];
      const started = performance.now();
      await Promise.all(
        setup.actors.map(async (_, client) => {
          const base = servers[client % servers.length]!.url;
          for (let round = 0; round < ROUNDS; round++) {
            const t0 = performance.now();
            await run(client, round, base);
            times.push((performance.now() - t0) / 1000);
          }
        }),
      );
      return { seconds: (performance.now() - started) / 1000, times };
    };
    const cpuBefore = cpu();
    const push = await phase((client, round, base) => {
      const actor = setup.actors[client]!;
      return pushImage(
        base,
        `${actor.namespace}/img${round}`,
        images[client]![round]!,
        basic("iamapikey", actor.apiKey),
      );
    });
    const pull = await phase(async (client, round, base) => {
      const actor = setup.actors[client]!;
      await pullImage(base, `${actor.namespace}/img${round}`, "v1", {
        auth: basic("iamapikey", actor.apiKey),
        requestId: `scale-pull-${client}-${round}`,
        timeoutMs: remaining(),
      });
    });
    const cpuSpent = cpu() - cpuBefore;
    const mb = totalBytes / 1e6;
    return {
      config,
      pushMBs: mb / push.seconds,
      pushP99: p99(push.times),
      pullMBs: mb / pull.seconds,
      pullP99: p99(pull.times),
      cpuPer100MB: (cpuSpent / (2 * mb)) * 100,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

async function main(): Promise<void> {
  console.log(
    `bench:scale — ${CLIENTS} clients, ${ROUNDS} image(s) each of ${MB} MB in ${LAYERS} layer(s), ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  const admin = process.env.DATABASE_URL;
  const pg = admin ? undefined : await startPostgres();
  const moto = configs.some((c) => c.storage === "s3") ? await startMoto() : undefined;
  const rows: Row[] = [];
  try {
    for (const config of configs) {
      const db = admin ? await freshDatabase(admin) : undefined;
      try {
        const row = await runConfig(config, db?.url ?? pg!.url, moto);
        rows.push(row);
        console.log(
          `  done: ${config.name}, ${config.processes} process(es), load ${loadavg()[0]!.toFixed(2)}`,
        );
      } finally {
        await db?.drop();
      }
    }
  } finally {
    await moto?.stop();
    await pg?.destroy();
  }
  const header = [
    "storage",
    "processes",
    "push MB/s",
    "push p99 s",
    "pull MB/s",
    "pull p99 s",
    "server cpu s/100 MB",
  ];
  const cells = rows.map((r) => [
    r.config.name,
    String(r.config.processes),
    r.pushMBs.toFixed(1),
    r.pushP99.toFixed(2),
    r.pullMBs.toFixed(1),
    r.pullP99.toFixed(2),
    r.cpuPer100MB.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(header));
  console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
  for (const c of cells) console.log(line(c));
  console.log(
    `p99 of ${CLIENTS * ROUNDS} image pushes or pulls per row; MB/s of all clients at once; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}. S3 is moto_server (Python, in memory): its rows measure moto as much as Berth.`,
  );
}

await main();
