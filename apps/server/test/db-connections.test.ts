// BERTH_DB_CONNECTIONS (issue 15): the size of the server's database pool, and its default
// from where the database is.
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";

const local = Math.max(4, 2 * availableParallelism());

describe("BERTH_DB_CONNECTIONS", () => {
  it.each([
    ["the embedded database", {}, local],
    ["a database on 127.0.0.1", { DATABASE_URL: "postgres://u:p@127.0.0.1:5432/b" }, local],
    ["a database on localhost", { DATABASE_URL: "postgres://u:p@localhost/b" }, local],
    ["a database on ::1", { DATABASE_URL: "postgres://u:p@[::1]:5432/b" }, local],
    ["a database elsewhere", { DATABASE_URL: "postgres://u:p@db.example.com/b" }, 10],
    ["a database on another address", { DATABASE_URL: "postgres://u:p@10.0.0.7/b" }, 10],
    [
      "a setting",
      { DATABASE_URL: "postgres://u:p@db.example.com/b", BERTH_DB_CONNECTIONS: "7" },
      7,
    ],
  ])("for %s: %s connections", (_, env, expected) => {
    expect(loadConfig(env).dbConnections).toBe(expected);
  });

  it.each(["1", "101", "2.5", "many"])("refuses %s, naming the variable", (bad) => {
    expect(() => loadConfig({ BERTH_DB_CONNECTIONS: bad })).toThrow(/BERTH_DB_CONNECTIONS/);
  });
});
