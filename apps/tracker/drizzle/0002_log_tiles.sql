-- The stored nodes of the logs, kept as tiles of 16 (packages/tlog/src/tiles.ts) instead of one
-- row each. Every stored level holds its nodes from index 0 up without gaps, so each tile is
-- its level's nodes [idx*16, idx*16 + 16) in index order.
CREATE TABLE "tracker"."log_tiles" (
	"account_id" text NOT NULL,
	"region" text NOT NULL,
	"level" smallint NOT NULL,
	"idx" bigint NOT NULL,
	"hashes" "bytea" NOT NULL,
	CONSTRAINT "log_tiles_account_id_region_level_idx_pk" PRIMARY KEY("account_id","region","level","idx")
);
--> statement-breakpoint
INSERT INTO "tracker"."log_tiles" ("account_id", "region", "level", "idx", "hashes")
SELECT "account_id", "region", "level", "idx" / 16, string_agg("hash", ''::bytea ORDER BY "idx")
  FROM "tracker"."log_nodes"
 GROUP BY "account_id", "region", "level", "idx" / 16;
--> statement-breakpoint
DROP TABLE "tracker"."log_nodes";
