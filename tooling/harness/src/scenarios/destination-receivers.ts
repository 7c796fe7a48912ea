/**
 * The real receivers of the worker's destinations, for its tests and the destination fault
 * scenario: rsyslogd (plain TCP or TLS, RFC 5425) writing to a file, nats-server with
 * JetStream, and throwaway certificates for loopback TLS. Each can be killed and started
 * again on the same port, as an outage looks to the worker.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@berth/db";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { until } from "../processes";

/** Resolves once something accepts connections on the loopback port. */
export async function listening(port: number, what: string, ms = 20_000): Promise<void> {
  await until(
    `${what} listening on ${port}`,
    () =>
      new Promise<true | undefined>((resolve) => {
        const c = net.connect(port, "127.0.0.1");
        c.on("connect", () => {
          c.destroy();
          resolve(true);
        });
        c.on("error", () => resolve(undefined));
      }),
    ms,
    50,
  );
}

/**
 * A child process stopped the way an operator stops it (SIGTERM, then SIGKILL after 10 s),
 * waited for.
 */
async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const late = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(late);
}

/** A child process that can be killed (SIGKILL) and waited for. */
async function kill9(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}

export interface Certificates {
  /** PEM files: the CA's certificate, and the server's certificate and key it signed. */
  ca: string;
  cert: string;
  key: string;
}

/**
 * A throwaway CA and a server certificate it signed for 127.0.0.1 and localhost (P-256, two
 * days), made with the openssl CLI in a new temporary folder. For loopback tests only.
 */
export function makeCertificates(name = "berth test"): Certificates {
  const dir = mkdtempSync(join(tmpdir(), "berth-certs-"));
  const f = (n: string) => join(dir, n);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.pem"),
    "-days",
    "2",
    "-subj",
    `/CN=${name} CA`,
  );
  openssl("req", ...ec, "-keyout", f("key.pem"), "-out", f("server.csr"), "-subj", "/CN=127.0.0.1");
  writeFileSync(
    f("ext.cnf"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  openssl(
    "x509",
    "-req",
    "-in",
    f("server.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-out",
    f("cert.pem"),
    "-days",
    "2",
    "-extfile",
    f("ext.cnf"),
  );
  return { ca: f("ca.pem"), cert: f("cert.pem"), key: f("key.pem") };
}

export interface SyslogLine {
  pri: string;
  app: string;
  msgid: string;
  sd: string;
  event: { id: string };
}

/**
 * A real rsyslogd in the foreground with its own configuration, writing what it receives on a
 * loopback TCP port (RFC 6587 octet counting; TLS with `tls`, through the gtls driver of the
 * rsyslog-gnutls package) to a file: header fields, structured data, then the message.
 */
export async function startRsyslog(opts: { port?: number; tls?: Certificates } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "berth-rsyslog-"));
  const port = opts.port ?? (await freePort());
  const out = join(dir, "out.log");
  const t = opts.tls;
  const driver = t
    ? ` DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="${t.ca}" DefaultNetstreamDriverCertFile="${t.cert}" DefaultNetstreamDriverKeyFile="${t.key}"`
    : "";
  const module = t
    ? `module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")`
    : `module(load="imtcp")`;
  writeFileSync(
    join(dir, "rsyslog.conf"),
    `global(workDirectory="${dir}" maxMessageSize="64k"${driver})
${module}
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
      { stdio: "ignore" },
    );
    await listening(port, "rsyslogd");
  };
  const kill = async () => {
    await kill9(child);
    rmSync(join(dir, "rsyslog.pid"), { force: true });
  };
  /**
   * Stopped as an operator stops it: rsyslog writes what it has read before it exits. (Killed
   * with -9 it loses a batch it had read but not yet written, and the sender cannot tell: plain
   * TCP syslog has no acknowledgement — see docs/delivery.md.)
   */
  const shutdown = async () => {
    await terminate(child);
    rmSync(join(dir, "rsyslog.pid"), { force: true });
  };
  await start();
  return {
    url: `${t ? "tls" : "tcp"}://127.0.0.1:${port}`,
    port,
    start,
    kill,
    shutdown,
    /** Every line received: its header fields, structured data and the event. */
    lines(): SyslogLine[] {
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
    /** The event ids received, in the order received (a redelivered batch repeats). */
    ids(): string[] {
      return this.lines().map((l) => l.event.id);
    },
    async stop(): Promise<void> {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type Rsyslog = Awaited<ReturnType<typeof startRsyslog>>;

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
    port,
    subject,
    start,
    kill: () => kill9(child),
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
      await kill9(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type Nats = Awaited<ReturnType<typeof startNats>>;
