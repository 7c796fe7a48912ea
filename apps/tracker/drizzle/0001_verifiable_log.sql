CREATE TABLE "tracker"."checkpoints" (
	"account_id" text NOT NULL,
	"region" text NOT NULL,
	"size" bigint NOT NULL,
	"note" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "checkpoints_account_id_region_size_pk" PRIMARY KEY("account_id","region","size")
);
--> statement-breakpoint
CREATE TABLE "tracker"."log_nodes" (
	"account_id" text NOT NULL,
	"region" text NOT NULL,
	"level" smallint NOT NULL,
	"idx" bigint NOT NULL,
	"hash" "bytea" NOT NULL,
	CONSTRAINT "log_nodes_account_id_region_level_idx_pk" PRIMARY KEY("account_id","region","level","idx")
);
--> statement-breakpoint
CREATE TABLE "tracker"."logs" (
	"account_id" text NOT NULL,
	"region" text NOT NULL,
	"size" bigint DEFAULT 0 NOT NULL,
	"frontier" "bytea" NOT NULL,
	"checkpoint_size" bigint DEFAULT 0 NOT NULL,
	"checkpoint_at" timestamp with time zone,
	CONSTRAINT "logs_account_id_region_pk" PRIMARY KEY("account_id","region")
);
--> statement-breakpoint
ALTER TABLE "tracker"."events" ADD COLUMN "log_index" bigint;--> statement-breakpoint
CREATE INDEX "logs_grown_idx" ON "tracker"."logs" USING btree ("checkpoint_at") WHERE "tracker"."logs"."checkpoint_size" < "tracker"."logs"."size";--> statement-breakpoint
CREATE UNIQUE INDEX "events_log_index_idx" ON "tracker"."events" USING btree ("account_id","region","log_index");