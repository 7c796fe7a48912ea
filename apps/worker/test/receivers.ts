import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { HTTP } from "cloudevents";
import { Webhook } from "standardwebhooks";
import { waitFor } from "./harness";

/** A port free right now on loopback (for receivers that must come back on the same one). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function listening(port: number, what: string): Promise<void> {
  await waitFor(
    `${what} listening on ${port}`,
    () =>
      new Promise<boolean>((resolve) => {
        const c = net.connect(port, "127.0.0.1");
        c.on("connect", () => {
          c.destroy();
          resolve(true);
        });
        c.on("error", () => resolve(false));
      }),
    Boolean,
    20_000,
  );
}

/**
 * A real rsyslogd in the foreground with its own configuration, writing what it receives on a
 * loopback TCP port (RFC 6587 octet counting) to a file: structured data, then the message.
 * It can be killed and started again on the same port.
 */
export async function startRsyslog() {
  const dir = mkdtempSync(join(tmpdir(), "berth-rsyslog-"));
  const port = await freePort();
  const out = join(dir, "out.log");
  writeFileSync(
    join(dir, "rsyslog.conf"),
    `global(workDirectory="${dir}" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" port="${port}" address="127.0.0.1")
main_queue(queue.type="Direct")
template(name="berth" type="string" string="%pri% %app-name% %msgid% %structured-data% %msg%\\n")
action(type="omfile" file="${out}" template="berth")
`,
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      "rsyslogd",
      ["-n", "-f", join(dir, "rsyslog.conf"), "-i", join(dir, "rsyslog.pid")],
      {
        stdio: "ignore",
      },
    );
    await listening(port, "rsyslogd");
  };
  await start();
  return {
    url: `tcp://127.0.0.1:${port}`,
    start,
    async kill(): Promise<void> {
      const c = child;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.on("exit", r));
      c.kill("SIGKILL");
      await exited;
      rmSync(join(dir, "rsyslog.pid"), { force: true });
    },
    /** Every line received: its header fields, structured data and the event. */
    lines(): { pri: string; app: string; msgid: string; sd: string; event: { id: string } }[] {
      let text = "";
      try {
        text = readFileSync(out, "utf8");
      } catch {
        return [];
      }
      return text
        .split("\n")
        .filter(Boolean)
        .map((l) => {
          const [pri = "", app = "", msgid = ""] = l.split(" ", 3);
          const body = l.indexOf("] {");
          return {
            pri,
            app,
            msgid,
            sd: l.slice(pri.length + app.length + msgid.length + 3, body + 1),
            event: JSON.parse(l.slice(body + 2)),
          };
        });
    },
    async stop(): Promise<void> {
      await this.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A real nats-server with JetStream on a free loopback port, a temp store, and a stream. */
export async function startNats(subject = "berth.events", stream = "BERTH") {
  const dir = mkdtempSync(join(tmpdir(), "berth-nats-"));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir], {
      stdio: "ignore",
    });
    await listening(port, "nats-server");
  };
  await start();
  const url = `nats://127.0.0.1:${port}`;
  const admin = async <T>(f: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>) => {
    const nc = await connect({ servers: url });
    try {
      return await f(await jetstreamManager(nc));
    } finally {
      await nc.close();
    }
  };
  await admin((jsm) => jsm.streams.add({ name: stream, subjects: [subject] }));
  return {
    url,
    subject,
    start,
    async kill(): Promise<void> {
      const c = child;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.on("exit", r));
      c.kill("SIGKILL");
      await exited;
    },
    /** The ids of the stream's messages, in stream order. */
    ids(): Promise<string[]> {
      return admin(async (jsm) => {
        const info = await jsm.streams.info(stream);
        const out: string[] = [];
        for (
          let seq = info.state.first_seq;
          seq <= info.state.last_seq && info.state.messages > 0;
          seq++
        ) {
          const m = await jsm.streams.getMessage(stream, { seq });
          if (m) out.push((m.json() as { id: string }).id);
        }
        return out;
      });
    },
    async stop(): Promise<void> {
      await this.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An HTTP receiver whose answers the test controls (status, delay). `webhook` receivers verify
 * every request with the official standardwebhooks package, as a real receiver would, and
 * count a webhook-id seen before as a duplicate; `cloudevents` ones parse the batch with the
 * official SDK.
 */
export async function startReceiver(
  kind: "webhook" | "cloudevents",
  opts: { secret?: string } = {},
) {
  const verifier = opts.secret ? new Webhook(opts.secret) : undefined;
  const state = {
    status: 200,
    delayMs: 0,
    requests: 0,
    /** Events taken (2xx answered), by id, with how many times each was taken. */
    taken: new Map<string, number>(),
    badSignatures: 0,
    events: [] as { id: string; type: string; source: string; data: unknown }[],
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      state.requests++;
      const body = Buffer.concat(chunks).toString("utf8");
      if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
      if (state.status !== 200) {
        res.writeHead(state.status).end("not now");
        return;
      }
      let ids: string[];
      try {
        if (kind === "webhook") {
          const e = verifier!.verify(body, req.headers as Record<string, string>) as { id: string };
          if (e.id !== req.headers["webhook-id"]) throw new Error("webhook-id is not the event id");
          ids = [e.id];
        } else {
          if (req.headers["content-type"] !== "application/cloudevents-batch+json") {
            throw new Error(`content-type ${req.headers["content-type"]}`);
          }
          const parsed = HTTP.toEvent({ headers: req.headers, body });
          const list = Array.isArray(parsed) ? parsed : [parsed];
          for (const e of list) {
            state.events.push({
              id: e.id,
              type: e.type,
              source: e.source,
              data: e.data,
            });
          }
          ids = list.map((e) => e.id);
        }
      } catch (error) {
        state.badSignatures++;
        res.writeHead(400).end(String((error as Error).message));
        return;
      }
      for (const id of ids) state.taken.set(id, (state.taken.get(id) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    state,
    close(): Promise<void> {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
