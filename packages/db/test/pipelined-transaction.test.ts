import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pipelinedTransaction } from "../src/pipelined-transaction";
import { fileDatabase } from "./fixture";

const t = await fileDatabase();
// One connection: a transaction that left its connection reserved would hang the next one.
let one: postgres.Sql;
beforeAll(async () => {
  await t.sql`create table pt_probe (n int primary key)`;
  one = postgres(t.url, { max: 1, onnotice: () => {} });
});
afterAll(() => one?.end());

const rows = async () =>
  (await t.sql<{ n: number }[]>`select n from pt_probe order by n`).map((r) => r.n);

describe("pipelinedTransaction", () => {
  it("runs the statements in one transaction and commits them", async () => {
    const ids = await pipelinedTransaction(one, async (tx) => {
      const [a] = await tx<{ id: string }[]>`select txid_current()::text as id`;
      await tx`insert into pt_probe values (1)`;
      const [b] = await tx<{ id: string }[]>`select txid_current()::text as id`;
      return [a!.id, b!.id];
    });
    // Outside a transaction each statement would be its own, with its own id.
    expect(ids[0], "statements of the callback ran in different transactions").toBe(ids[1]);
    expect(await rows()).toEqual([1]);
  });

  it("rolls back when the callback throws, and gives the connection back", async () => {
    const refused = pipelinedTransaction(one, async (tx) => {
      await tx`insert into pt_probe values (2)`;
      throw new Error("checked and refused");
    });
    await expect(refused).rejects.toThrow("checked and refused");
    expect(await rows(), "the refused transaction's row was committed").toEqual([1]);
    const [after] = await one<{ ok: number }[]>`select 1 as ok`;
    expect(after!.ok).toBe(1);
  });

  it("rolls back every statement when one fails, with that statement's error", async () => {
    const failed = pipelinedTransaction(one, async (tx) =>
      Promise.all([tx`insert into pt_probe values (3)`, tx`insert into pt_probe values (1)`]),
    );
    await expect(failed).rejects.toMatchObject({ code: "23505" });
    expect(await rows(), "a statement before the failing one was committed").toEqual([1]);
    await pipelinedTransaction(one, (tx) => tx`insert into pt_probe values (4)`);
    expect(await rows()).toEqual([1, 4]);
  });
});
