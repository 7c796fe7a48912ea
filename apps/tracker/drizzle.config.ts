import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/schema.ts",
  out: "./drizzle",
  schemaFilter: ["tracker"],
  migrations: { schema: "tracker", table: "__drizzle_migrations" },
});
