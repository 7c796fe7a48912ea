import { type Connection, connect } from "@berth/db";

/**
 * Runs an operator's command (admin.ts, gc.ts) on this process's arguments and exits with
 * the code `main` returns. On a throw it prints only the error's message (no stack for a
 * mistyped flag), then `usage` when given, and exits with `code`.
 */
export function runCommandLine(
  main: (argv: string[]) => Promise<number>,
  onError: { code: number; usage?: string },
): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      if (onError.usage) console.error(onError.usage);
      process.exit(onError.code);
    },
  );
}

/** Runs `use` on a connection to DATABASE_URL, closed afterwards whatever happens. */
export async function withConnection<T>(use: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await connect();
  try {
    return await use(conn);
  } finally {
    await conn.close();
  }
}
