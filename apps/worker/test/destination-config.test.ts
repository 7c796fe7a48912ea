import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadDestinationsFile, parseDestinations } from "../src/destination-config";

const SECRET = `whsec_${Buffer.from("a-secret-nobody-may-log-0123456789").toString("base64")}`;
const TOKEN = "nats-token-that-must-stay-hidden";

const errorOf = (f: () => unknown): string => {
  try {
    f();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("BERTH_DESTINATIONS", () => {
  it("reads JSON and YAML lists of destinations", () => {
    const list = [
      { name: "siem", type: "syslog", url: "tcp://127.0.0.1:6514" },
      { name: "bus", type: "jetstream", url: "nats://127.0.0.1:4222", subject: "berth.events" },
      { name: "hooks", type: "webhook", url: "https://hooks.example/in", secret: SECRET },
      {
        name: "ce",
        type: "cloudevents",
        url: "http://127.0.0.1:9000/",
        filter: { outcomes: ["failure"], accounts: ["acct1"] },
      },
    ];
    expect(parseDestinations(JSON.stringify(list), false)).toEqual(list);
    const yaml = `- name: siem\n  type: syslog\n  url: tls://siem.example:6514\n  filter:\n    severities: [critical]\n`;
    expect(parseDestinations(yaml, true)).toEqual([
      {
        name: "siem",
        type: "syslog",
        url: "tls://siem.example:6514",
        filter: { severities: ["critical"] },
      },
    ]);
  });

  it.each([
    [
      "an unknown type",
      [{ name: "x", type: "kafka", url: "tcp://h:1" }],
      "entry 1 (x): type: must be one of syslog, webhook, cloudevents, jetstream",
    ],
    [
      "a URL of the wrong scheme",
      [{ name: "x", type: "syslog", url: "http://h:1" }],
      "entry 1 (x): url: must be a URL with scheme tcp or tls",
    ],
    [
      "a missing subject",
      [{ name: "bus", type: "jetstream", url: "nats://h:4222" }],
      "entry 1 (bus): subject:",
    ],
    [
      "an unknown filter field",
      [{ name: "x", type: "syslog", url: "tcp://h:1", filter: { users: ["a"] } }],
      "entry 1 (x): filter: unknown field(s) users",
    ],
    [
      "an unknown outcome",
      [{ name: "x", type: "syslog", url: "tcp://h:1", filter: { outcomes: ["oops"] } }],
      "entry 1 (x): filter.outcomes.0:",
    ],
    [
      "a duplicate name",
      [
        { name: "x", type: "syslog", url: "tcp://h:1" },
        { name: "x", type: "syslog", url: "tcp://h:2" },
      ],
      "entry 2 (x): name: is used by an earlier entry",
    ],
    [
      "a CA on a clear-text syslog URL (TLS was meant: never fall back to clear)",
      [{ name: "x", type: "syslog", url: "tcp://h:1", ca: "/etc/ca.pem" }],
      "entry 1 (x): ca: is for tls:// URLs only",
    ],
    [
      "the tracker's name",
      [{ name: "tracker", type: "syslog", url: "tcp://h:1" }],
      "entry 1 (tracker): name:",
    ],
  ])("refuses %s, naming the entry and field", (_, list, message) => {
    expect(errorOf(() => parseDestinations(JSON.stringify(list), false))).toContain(
      `BERTH_DESTINATIONS: ${message}`,
    );
  });

  it("never puts a secret in an error, wherever it was mistyped", () => {
    const cases = [
      // A secret in the wrong shape, a secret under an unknown field, a token next to a bad URL.
      [{ name: "h", type: "webhook", url: "http://h/", secret: `${SECRET}!` }],
      [{ name: "h", type: "webhook", url: "http://h/", secret: SECRET, sekret: SECRET }],
      [
        {
          name: "b",
          type: "jetstream",
          url: `nats://${TOKEN}@h:4222 x`,
          subject: "s",
          token: TOKEN,
        },
      ],
      [{ name: "h", type: "webhook", url: SECRET, secret: SECRET }],
    ];
    for (const list of cases) {
      const message = errorOf(() => parseDestinations(JSON.stringify(list), false));
      expect(message).toMatch(/^BERTH_DESTINATIONS: entry 1/);
      expect(message).not.toContain(SECRET.slice(6, 20));
      expect(message).not.toContain(TOKEN);
    }
    // A file that does not parse: the parser's excerpt of the text is not passed on.
    const broken = `[{"name":"h","type":"webhook","secret":"${SECRET}" "url":1}]`;
    const message = errorOf(() => parseDestinations(broken, false));
    expect(message).toMatch(/^BERTH_DESTINATIONS: the file is not valid JSON/);
    expect(message).not.toContain(SECRET.slice(6, 20));
    const yamlMessage = errorOf(() => parseDestinations(`- secret: ${SECRET}\n  : : [`, true));
    expect(yamlMessage).not.toContain(SECRET.slice(6, 20));
  });

  it("names an unreadable file by its path", () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-dest-"));
    expect(errorOf(() => loadDestinationsFile(join(dir, "none.json")))).toMatch(
      /^BERTH_DESTINATIONS: cannot read .*none\.json: ENOENT$/,
    );
    writeFileSync(join(dir, "d.json"), "{}");
    expect(errorOf(() => loadDestinationsFile(join(dir, "d.json")))).toBe(
      "BERTH_DESTINATIONS: the file must hold a list of destinations",
    );
  });
});
