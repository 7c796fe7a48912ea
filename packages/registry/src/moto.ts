import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { freePort } from "@berth/db";
import { S3Location, s3ClientFromEnv } from "./storage/s3-client";

/**
 * A real S3-protocol server for the tests: moto_server on a free loopback port (CI installs
 * it with pip; MOTO_SERVER names another binary). Credentials are moto's throwaway ones.
 */
export interface Moto {
  endpoint: string;
  env: Record<string, string>;
  /** Create a fresh bucket and return its name. */
  bucket(): Promise<string>;
  /** The keys of a bucket under a prefix (what the tests look for in it). */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.env.MOTO_SERVER ?? "moto_server",
    ["-H", "127.0.0.1", "-p", String(port)],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  // Bounded: 300 tries a tenth of a second apart.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`moto_server exited: ${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      await res.arrayBuffer();
      break;
    } catch {
      if (i >= 300) {
        child.kill("SIGKILL");
        throw new Error(`moto_server did not answer on ${endpoint}: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const env = {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
  };
  const client = s3ClientFromEnv(env);
  return {
    endpoint,
    env,
    async bucket() {
      const name = `berth-${randomBytes(6).toString("hex")}`;
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async keys(bucket, prefix = "") {
      const keys: string[] = [];
      for await (const o of new S3Location(client, bucket, "").listObjects(prefix))
        keys.push(o.key);
      return keys;
    },
    async stop() {
      client.destroy();
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}
