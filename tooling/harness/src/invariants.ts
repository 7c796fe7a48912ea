/**
 * Consistency of a Berth database and blob store after a fault, as SQL over the tables and
 * stat() over the blob files. Each check returns the violations it found (empty: holds).
 *
 * 1. Stored: every blob row has its file, of the row's size, and every blob and child
 *    manifest a manifest references is recorded, linked into the manifest's repository and
 *    (for blobs) on disk. Nothing referenced is missing from the store.
 * 2. Usage: the storage an account is charged for (what quota.get reports) equals the bytes
 *    actually stored for it: the files of the distinct blobs linked to its repositories plus
 *    its manifests' bytes.
 * 3. Events and changes: every committed change has its success event and every success
 *    event its change. For each resource the workload creates at most once and deletes at
 *    most once (unique names), it exists now exactly when its success events say so:
 *    creates − deletes = 1. Resources: namespaces, registry tokens, manifests (by repository
 *    and digest), tags. Events are read from the outbox and, when there is one, the
 *    tracker's table, deduplicated on id.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { REGIONS, type RegionName } from "@berth/core";
import type { Sql } from "@berth/db";

export interface Violation {
  check: string;
  detail: string;
}

export interface InvariantReport {
  violations: Violation[];
  /** What was checked, for the figures. */
  counted: {
    blobs: number;
    manifests: number;
    references: number;
    accounts: number;
    events: number;
    namespaces: number;
    tokens: number;
    tags: number;
  };
}

/** Path of a blob file of an FsBlobStore rooted at `root`. */
export function blobFile(root: string, digest: string): string {
  const [algorithm, hex] = digest.split(":");
  return join(root, "blobs", algorithm!, hex!.slice(0, 2), hex!);
}

async function fileSize(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

/** Success and failure events, from the outbox and (if present) the tracker, once per id. */
export async function allEvents(sql: Sql): Promise<StoredEvent[]> {
  const [{ tracker }] = (await sql`
    select to_regclass('tracker.events') is not null as tracker`) as unknown as [
    { tracker: boolean },
  ];
  const rows = (await sql.unsafe(`
    select id::text, payload::jsonb as payload from outbox
    ${tracker ? "union select id::text, payload::jsonb from tracker.events" : ""}`)) as unknown as {
    id: string;
    payload: EventPayload;
  }[];
  const seen = new Set<string>();
  const out: StoredEvent[] = [];
  for (const r of rows) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    out.push({ id: r.id, ...parseTarget(r.payload) });
  }
  return out;
}

interface EventPayload {
  action: string;
  outcome: string;
  correlationId?: string;
  target: { id: string; name: string };
}

export interface StoredEvent {
  id: string;
  action: string;
  outcome: string;
  correlationId: string;
  account: string;
  location: string;
  /** The target's type and resource, from its CRN. */
  type: string;
  resource: string;
  targetName: string;
}

const CRN = /^crn:v1:bluemix:public:container-registry:([^:]*):a\/([^:]*)::([^:]*):(.*)$/;

function parseTarget(p: EventPayload): Omit<StoredEvent, "id"> {
  const m = CRN.exec(p.target.id);
  return {
    action: p.action,
    outcome: p.outcome,
    correlationId: p.correlationId ?? "",
    location: m?.[1] ?? "",
    account: m?.[2] ?? "",
    type: m?.[3] ?? "",
    resource: m?.[4] ?? "",
    targetName: p.target.name,
  };
}

/** Run every check. `storeRoot`: the FsBlobStore root (`<data dir>/blobs`). */
export async function checkInvariants(sql: Sql, storeRoot: string): Promise<InvariantReport> {
  const violations: Violation[] = [];
  const add = (check: string, detail: string) => {
    if (violations.length < 200) violations.push({ check, detail });
  };

  // 1. Stored.
  const blobs = (await sql`select digest, size::bigint as size from blobs`) as unknown as {
    digest: string;
    size: bigint | number;
  }[];
  const sizeOnDisk = new Map<string, number | null>();
  for (const b of blobs) {
    const size = await fileSize(blobFile(storeRoot, b.digest));
    sizeOnDisk.set(b.digest, size);
    if (size === null) add("stored", `blob ${b.digest} has a row but no file`);
    else if (size !== Number(b.size)) {
      add("stored", `blob ${b.digest}: row says ${b.size} bytes, file holds ${size}`);
    }
  }
  const refs = (await sql`
    select m.digest as manifest, r.name as repository, mr.digest, mr.kind,
           (b.digest is not null) as recorded,
           (rb.digest is not null) as linked,
           (child.id is not null) as child_present
      from manifest_references mr
      join manifests m on m.id = mr.manifest_id
      join repositories r on r.id = m.repository_id
      left join blobs b on b.digest = mr.digest
      left join repository_blobs rb on rb.repository_id = m.repository_id and rb.digest = mr.digest
      left join manifests child on child.repository_id = m.repository_id and child.digest = mr.digest
  `) as unknown as {
    manifest: string;
    repository: string;
    digest: string;
    kind: string;
    recorded: boolean;
    linked: boolean;
    child_present: boolean;
  }[];
  for (const r of refs) {
    const where = `${r.repository}@${r.manifest} references ${r.kind} ${r.digest}`;
    if (r.kind === "manifest") {
      if (!r.child_present) add("stored", `${where}, which is not in the repository`);
      continue;
    }
    if (!r.recorded) add("stored", `${where}, which has no blob row`);
    else if (sizeOnDisk.get(r.digest) == null) add("stored", `${where}, whose file is missing`);
    if (!r.linked) add("stored", `${where}, which is not linked to the repository`);
  }
  const badManifests = (await sql`
    select digest from manifests where octet_length(content) <> size`) as unknown as {
    digest: string;
  }[];
  for (const m of badManifests) add("stored", `manifest ${m.digest}: size differs from its bytes`);

  // 2. Usage.
  const accounts = (await sql`
    select distinct n.account_id, n.region from namespaces n`) as unknown as {
    account_id: string;
    region: string;
  }[];
  for (const a of accounts) {
    const [charged] = (await sql`
      select coalesce(sum(size), 0)::bigint as bytes from (
        select b.digest, b.size from repository_blobs rb
          join repositories r on r.id = rb.repository_id
          join namespaces n on n.id = r.namespace_id
          join blobs b on b.digest = rb.digest
         where n.account_id = ${a.account_id} and n.region = ${a.region}
        union
        select m.digest, m.size from manifests m
          join repositories r on r.id = m.repository_id
          join namespaces n on n.id = r.namespace_id
         where n.account_id = ${a.account_id} and n.region = ${a.region}) s`) as unknown as [
      { bytes: bigint | number },
    ];
    const held = (await sql`
      select distinct rb.digest from repository_blobs rb
        join repositories r on r.id = rb.repository_id
        join namespaces n on n.id = r.namespace_id
       where n.account_id = ${a.account_id} and n.region = ${a.region}`) as unknown as {
      digest: string;
    }[];
    const [manifestBytes] = (await sql`
      select coalesce(sum(octet_length(content)), 0)::bigint as bytes from (
        select distinct on (m.digest) m.content from manifests m
          join repositories r on r.id = m.repository_id
          join namespaces n on n.id = r.namespace_id
         where n.account_id = ${a.account_id} and n.region = ${a.region}) s`) as unknown as [
      { bytes: bigint | number },
    ];
    let stored = Number(manifestBytes.bytes);
    for (const h of held) stored += sizeOnDisk.get(h.digest) ?? 0;
    if (Number(charged.bytes) !== stored) {
      add(
        "usage",
        `account ${a.account_id} in ${a.region}: charged ${charged.bytes} bytes, stored ${stored}`,
      );
    }
  }

  // 3. Events and changes.
  const events = await allEvents(sql);
  const success = events.filter((e) => e.outcome === "success");
  const balance = new Map<string, number>();
  const creates = new Map<string, number>();
  const bump = (key: string, by: number) => {
    balance.set(key, (balance.get(key) ?? 0) + by);
    if (by > 0) creates.set(key, (creates.get(key) ?? 0) + 1);
  };
  for (const e of success) {
    const scope = `${e.account}/${e.location}`;
    switch (e.action) {
      case "container-registry.namespace.create":
        bump(`ns ${scope} ${e.resource}`, 1);
        break;
      case "container-registry.namespace.delete":
        bump(`ns ${scope} ${e.resource}`, -1);
        break;
      case "container-registry.registrytoken.create":
        bump(`token ${e.account} ${e.resource}`, 1);
        break;
      case "container-registry.registrytoken.delete":
      case "container-registry.registrytokens.delete":
        bump(`token ${e.account} ${e.resource}`, -1);
        break;
      case "container-registry.image.push":
        // resource: ns/repo@digest; the target name says which tag, if one was pushed.
        bump(`manifest ${scope} ${e.resource}`, 1);
        if (!e.targetName.includes("@")) bump(`tag ${scope} ${e.targetName}`, 1);
        break;
      case "container-registry.image.delete":
        bump(`manifest ${scope} ${e.resource}`, -1);
        break;
    }
  }
  const present = new Set<string>();
  for (const n of (await sql`select account_id, region, name from namespaces`) as unknown as {
    account_id: string;
    region: string;
    name: string;
  }[]) {
    present.add(`ns ${n.account_id}/${loc(n.region)} ${n.name}`);
  }
  const tokens = (await sql`select id::text, account_id from registry_tokens`) as unknown as {
    id: string;
    account_id: string;
  }[];
  for (const t of tokens) present.add(`token ${t.account_id} ${t.id}`);
  // A manifest's digest or a tag's name, with the account, region and repository it is in.
  const inRepositories = async (table: "manifests" | "tags", column: "digest" | "name") =>
    (await sql`
      select n.account_id, n.region, r.name as repository, x.${sql(column)} as name
        from ${sql(table)} x
        join repositories r on r.id = x.repository_id
        join namespaces n on n.id = r.namespace_id`) as unknown as {
      account_id: string;
      region: string;
      repository: string;
      name: string;
    }[];
  const manifests = await inRepositories("manifests", "digest");
  for (const m of manifests) {
    present.add(`manifest ${m.account_id}/${loc(m.region)} ${m.repository}@${m.name}`);
  }
  const tags = await inRepositories("tags", "name");
  for (const t of tags) {
    present.add(`tag ${t.account_id}/${loc(t.region)} ${t.repository}:${t.name}`);
  }

  for (const [key, n] of creates) {
    if (n > 1) add("events", `${key} has ${n} create events (the workload creates it once)`);
  }
  for (const [key, n] of balance) {
    // Namespace deletes take their manifests and tags without per-image events.
    if (n === 1 && !present.has(key) && !deletedWithNamespace(key, balance)) {
      add("events", `${key} has its success event but does not exist`);
    }
    if (n <= 0 && present.has(key)) add("events", `${key} exists, but its events say deleted`);
  }
  for (const key of present) {
    if ((balance.get(key) ?? 0) !== 1) add("events", `${key} exists without its success event`);
  }

  return {
    violations,
    counted: {
      blobs: blobs.length,
      manifests: manifests.length,
      references: refs.length,
      accounts: accounts.length,
      events: events.length,
      namespaces: [...present].filter((k) => k.startsWith("ns ")).length,
      tokens: tokens.length,
      tags: tags.length,
    },
  };
}

/** `manifest|tag <account>/<loc> <ns>/...` whose namespace has a delete event. */
function deletedWithNamespace(key: string, balance: Map<string, number>): boolean {
  const m = /^(?:manifest|tag) (\S+) ([^/]+)\//.exec(key);
  if (!m) return false;
  return (balance.get(`ns ${m[1]} ${m[2]}`) ?? 1) <= 0;
}

/** Region name → cloud location, as CRNs write it. */
function loc(region: string): string {
  return REGIONS[region as RegionName]?.location ?? region;
}

/** Outbox events of success; a refused request may add failure events, never these. */
export async function successEvents(sql: Sql): Promise<number> {
  const [row] = (await sql`
    select count(*)::int as n from outbox where payload->>'outcome' = 'success'`) as unknown as [
    { n: number },
  ];
  return row.n;
}
